#pragma once

// Which cluster a data directory belongs to, and how this node became a member: fixed at the
// node's first start and kept in <data-dir>/cluster.json, so that a restart uses what was
// stored rather than flags that may have changed since:
// - a node of a new cluster (--peers) stores the bootstrap members (ids and addresses) and
//   the cluster's name derived from their ids, as the WAL has always been named;
// - a node that joined (--join) stores the name the leader gave it, and no bootstrap members:
//   it learns the membership from the log and snapshots, as every member does after a change.
// The Raft log and snapshots hold every change since the bootstrap (src/raft).

#include <optional>
#include <string>
#include <vector>

#include "common/peers.h"
#include "common/status.h"

namespace nomad::server {

struct ClusterIdentity {
  std::string cluster;                 // names the WAL's cluster (storage/wal.h)
  bool joined = false;                 // the node joined a running cluster
  std::vector<PeerAddress> bootstrap;  // the other bootstrap voters (joined: none)
};

// The cluster name of a new cluster: its bootstrap voters' ids, sorted, comma separated.
std::string bootstrap_cluster_name(uint64_t self, const std::vector<PeerAddress>& peers);

// Reads <data_dir>/cluster.json: *out stays empty when the file does not exist. A file that
// does not parse is an error naming it.
Status load_cluster_identity(const std::string& data_dir, std::optional<ClusterIdentity>* out);
// Writes it atomically (temporary file, fsync, rename, directory fsync), mode 0600.
Status save_cluster_identity(const std::string& data_dir, const ClusterIdentity& identity);

// Whether the data directory already holds state (WAL segments or snapshots).
bool holds_state(const std::string& data_dir);

}  // namespace nomad::server
