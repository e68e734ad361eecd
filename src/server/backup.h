#pragma once

// What a server puts into a snapshot file (storage/backup_file.h) and what it does with one
// before its node starts: `--restore FILE` seeds an empty data directory with the file's
// state, `--force-new-cluster` turns a survivor's committed state into a one-node cluster.
// Both run before the node opens its data directory (server.cc).

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "node/node.h"
#include "node/server_config.h"
#include "raft/types.h"
#include "storage/backup_file.h"

namespace nomad::server {

// The cluster's name as the WAL records it: the sorted voter ids, "1,2,3".
std::string cluster_id(const node::ServerConfig& config);

// The voters as --peers and this node's own address name them, sorted by id.
std::vector<storage::BackupMember> backup_members(const node::ServerConfig& config);

// The snapshot file of `image`, taken at `created_at_ms`.
std::string make_backup(const node::Node::StateImage& image, const node::ServerConfig& config,
                        int64_t created_at_ms);

// The job store bytes `data` with every attempt still running (or placed and not yet started)
// ended as lost at `at_ms`, so that the jobs are retried by the usual rules: their processes
// belonged to a cluster that is gone. The same input gives the same bytes on every node.
// *ended (when given) counts the attempts ended.
Status end_running_attempts(const std::string& data, raft::Index index, raft::Term term,
                            int64_t at_ms, const std::string& why, std::string* out,
                            size_t* ended = nullptr);

// Acts on config->restore_file and config->force_new_cluster (either may be set, not both).
// --force-new-cluster also clears config->peers: the node starts alone.
Status prepare_data_dir(node::ServerConfig* config);

}  // namespace nomad::server
