#include "server/backup.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "common/unix_time.h"
#include "jobs/failure_reason.h"
#include "jobs/job_store.h"
#include "server/cluster_identity.h"
#include "storage/snapshot_store.h"
#include "storage/wal.h"

namespace nomad::server {
namespace fs = std::filesystem;

std::string cluster_id(const node::ServerConfig& config) {
  std::vector<uint64_t> ids{config.node_id};
  for (const auto& p : config.peers) ids.push_back(p.id);
  std::sort(ids.begin(), ids.end());
  std::string out;
  for (uint64_t id : ids) out += (out.empty() ? "" : ",") + std::to_string(id);
  return out;
}

std::vector<storage::BackupMember> backup_members(const node::ServerConfig& config) {
  std::vector<storage::BackupMember> out{{config.node_id, true, config.advertise_address()}};
  for (const auto& p : config.peers) out.push_back({p.id, true, p.address()});
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

std::string make_backup(const node::Node::StateImage& image, const node::ServerConfig& config,
                        int64_t created_at_ms) {
  storage::BackupHeader header;
  header.index = image.index;
  header.term = image.term;
  header.created_at_ms = created_at_ms;
  header.job_count = image.job_count;
  header.cluster_id = cluster_id(config);
  header.members = backup_members(config);
  if (!image.membership.empty()) {
    header.members.clear();
    const auto known = backup_members(config);  // addresses the configuration may lack
    for (const auto& m : image.membership.members) {
      std::string address = m.address;
      for (const auto& k : known) {
        if (address.empty() && k.id == m.id) address = k.address;
      }
      header.members.push_back({m.id, m.voter, address});
    }
  }
  return storage::encode_backup(std::move(header), image.jobs.serialize());
}

Status end_running_attempts(const std::string& data, raft::Index index, raft::Term term,
                            int64_t at_ms, const std::string& why, std::string* out,
                            size_t* ended) {
  jobs::JobStore store;
  if (Status s = store.restore(data); !s) return Status::error("its job state: " + s.message());
  jobs::ListQuery running;
  running.status = nomad_lite::JOB_STATUS_RUNNING;
  running.limit = store.size();
  nomad_lite::Command command;
  auto* updates = command.mutable_updates();
  for (const auto& job : store.list(running).jobs) {
    const nomad_lite::Attempt* attempt = jobs::last_attempt(&job);
    if (!attempt || attempt->finished_at_ms() != 0) continue;
    nomad_lite::JobFinished* f = updates->add_finished();
    f->set_job_id(job.id());
    f->set_attempt(attempt->number());
    f->set_node_id(attempt->node_id());
    f->set_at_ms(at_ms);
    f->set_reason(jobs::failure_reason_name(jobs::FailureReason::kLost));
    f->set_error(why);
  }
  if (ended) *ended = static_cast<size_t>(updates->finished_size());
  if (updates->finished_size() > 0) {
    jobs::ApplyResult r =
        store.apply({term, index, raft::EntryType::kNormal, command.SerializeAsString()});
    if (!r.status) return Status::error("ending its running attempts: " + r.status.message());
  }
  *out = store.snapshot();
  return Status::ok();
}

namespace {

constexpr const char* kRestoredMarker = "restored-from";
constexpr const char* kForcedMarker = "forced-new-cluster";

bool has_file_ending_in(const fs::path& dir, const std::string& extension) {
  std::error_code ec;
  for (const auto& item : fs::directory_iterator(dir, ec)) {
    if (item.path().extension() == extension) return true;
  }
  return false;
}

// Whether the node's log or snapshots are in `dir` (what NodeHost opens: wal/, snap/).
bool data_dir_holds_state(const std::string& dir) {
  return has_file_ending_in(fs::path(dir) / "wal", ".wal") ||
         has_file_ending_in(fs::path(dir) / "snap", ".snap");
}

std::string read_marker(const fs::path& path) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text;
}

Status write_backup_marker(const fs::path& path, const std::string& text) {
  return storage::write_file_atomically(path.string(), text);
}

Status restore_into_data_dir(node::ServerConfig* config) {
  const std::string& file = config->restore_file;
  const std::string dir = config->effective_data_dir();
  storage::BackupHeader header;
  std::string data;
  if (Status s = storage::read_backup_file(file, &header, &data); !s) {
    return Status::error("--restore: " + s.message());
  }
  char crc[16];
  snprintf(crc, sizeof(crc), "%08x", header.data_crc);
  const std::string identity = std::string("crc32c ") + crc + " index " +
                               std::to_string(header.index) + " term " +
                               std::to_string(header.term) + "\n";
  if (data_dir_holds_state(dir)) {
    // A restarted node keeps its --restore flag (a unit file, a script): its own state, restored
    // from this very file and moved on since, wins.
    if (read_marker(fs::path(dir) / kRestoredMarker) == identity) {
      spdlog::info(
          "--restore {}: data directory {} was restored from this file already; "
          "starting from its state",
          file, dir);
      return Status::ok();
    }
    return Status::error("--restore: data directory " + dir +
                         " already holds state; --restore bootstraps a new cluster into an empty "
                         "data directory: move it aside or give another --data-dir");
  }
  std::string restored;
  size_t ended = 0;
  // The moment of the save, not of the restore: every node of the new cluster writes the same.
  if (Status s = end_running_attempts(
          data, header.index, header.term, header.created_at_ms,
          "running when the snapshot was saved; restored into a new cluster", &restored, &ended);
      !s) {
    return Status::error("--restore: " + file + ": " + s.message());
  }
  storage::SnapshotStore snapshots((fs::path(dir) / "snap").string());
  if (Status s = snapshots.save(header.index, header.term, restored, config->fsync); !s) {
    return Status::error("--restore: " + s.message());
  }
  if (Status s = write_backup_marker(fs::path(dir) / kRestoredMarker, identity); !s) return s;
  spdlog::info(
      "--restore {}: {} jobs at index {} (term {}) of cluster '{}', saved at {} ms; {} running "
      "attempts ended as lost and retried by the usual rules",
      file, header.job_count, header.index, header.term, header.cluster_id, header.created_at_ms,
      ended);
  return Status::ok();
}

Status refound_as_one_node(node::ServerConfig* config) {
  const std::string dir = config->effective_data_dir();
  const fs::path marker = fs::path(dir) / kForcedMarker;
  std::error_code ec;
  if (fs::exists(marker, ec)) {
    spdlog::warn(
        "--force-new-cluster: data directory {} holds a one-node cluster made by an "
        "earlier --force-new-cluster; starting it alone (drop --force-new-cluster and "
        "--peers from this node's command line)",
        dir);
    config->peers.clear();
    return Status::ok();
  }
  if (!data_dir_holds_state(dir)) {
    return Status::error("--force-new-cluster: data directory " + dir +
                         " holds no state to keep; it is for a survivor of a cluster that lost "
                         "its majority");
  }
  // The WAL is named after the cluster stored in cluster.json at the node's first start; a
  // data directory from before that file existed is named after the --peers it ran with.
  std::optional<ClusterIdentity> stored;
  if (Status s = load_cluster_identity(dir, &stored); !s) return s;
  const std::string cluster = stored ? stored->cluster : cluster_id(*config);
  if (stored && !config->peers.empty() && cluster_id(*config) != cluster) {
    spdlog::warn("--force-new-cluster: --peers ignored: data directory {} belongs to cluster '{}'",
                 dir, cluster);
  }
  // The survivor's committed state: its snapshot and the log entries up to its commit index.
  std::optional<storage::Snapshot> snapshot;
  storage::SnapshotStore snapshots((fs::path(dir) / "snap").string());
  if (Status s = snapshots.load_latest(&snapshot); !s) return s;
  const raft::Index snapshot_index = snapshot ? snapshot->index : 0;
  storage::WalContents contents;
  {
    Status status;
    auto wal = storage::Wal::open((fs::path(dir) / "wal").string(),
                                  {.node_id = config->node_id, .cluster = cluster}, snapshot_index,
                                  &contents, &status);
    if (!wal) {
      return Status::error("--force-new-cluster: " + status.message() +
                           (stored ? std::string()
                                   : std::string(" (this data directory has no cluster.json: "
                                                 "give the --peers this node ran with)")));
    }
  }
  jobs::JobStore store;
  if (snapshot) {
    if (Status s = store.restore(snapshot->data); !s) {
      return Status::error("--force-new-cluster: snapshot: " + s.message());
    }
  }
  raft::Index index = snapshot_index;
  raft::Term term = snapshot ? snapshot->term : 0;
  size_t dropped = 0;
  for (const auto& e : contents.entries) {
    if (e.index > contents.hard_state.commit) {
      ++dropped;
      continue;
    }
    store.apply(e);
    index = e.index;
    term = e.term;
  }
  std::string state;
  size_t ended = 0;
  if (Status s =
          end_running_attempts(store.snapshot(), index, term, common::unix_now_ms(),
                               "its cluster was re-founded by --force-new-cluster", &state, &ended);
      !s) {
    return Status::error("--force-new-cluster: " + s.message());
  }
  // The old log and snapshots are kept aside, never deleted: they are the only copy of
  // whatever was not known to be committed.
  const fs::path aside =
      fs::path(dir) / ("before-force-new-cluster-" + std::to_string(common::unix_now_ms()));
  fs::create_directories(aside, ec);
  for (const char* part : {"wal", "snap"}) {
    if (!fs::exists(fs::path(dir) / part, ec)) continue;
    fs::rename(fs::path(dir) / part, aside / part, ec);
    if (ec) {
      return Status::error("--force-new-cluster: cannot move " + (fs::path(dir) / part).string() +
                           " aside: " + ec.message());
    }
  }
  // The stored configuration is rewritten: this node is the one voter.
  raft::Membership alone;
  alone.members.push_back({config->node_id, true, config->advertise_address()});
  alone.index = index;
  storage::SnapshotStore fresh((fs::path(dir) / "snap").string());
  if (Status s = fresh.save(index, term, alone, state, config->fsync); !s) {
    return Status::error("--force-new-cluster: " + s.message());
  }
  // The node now bootstraps alone: a restart (with or without the flags it ran with) and the
  // nodes that join it later keep the cluster's name, and no --peers of the old cluster.
  ClusterIdentity refounded{.cluster = cluster, .joined = false, .bootstrap = {}};
  if (Status s = save_cluster_identity(dir, refounded); !s) {
    return Status::error("--force-new-cluster: " + s.message());
  }
  if (Status s = write_backup_marker(
          marker, "from cluster " + cluster + " at index " + std::to_string(index) + "\n");
      !s) {
    return s;
  }
  spdlog::warn(
      "--force-new-cluster: node {} starts a new one-node cluster with the committed state of "
      "cluster '{}' up to index {} (term {}); {} uncommitted log entries dropped, {} running "
      "attempts ended as lost; the old log and snapshots are in {}",
      config->node_id, cluster, index, term, dropped, ended, aside.string());
  config->peers.clear();
  return Status::ok();
}

}  // namespace

Status prepare_data_dir(node::ServerConfig* config) {
  if (!config->restore_file.empty() && config->force_new_cluster) {
    return Status::error(
        "--restore and --force-new-cluster do not go together: --restore starts a new cluster "
        "from a snapshot file, --force-new-cluster from this node's own data directory");
  }
  if (!config->restore_file.empty()) return restore_into_data_dir(config);
  if (config->force_new_cluster) return refound_as_one_node(config);
  return Status::ok();
}

}  // namespace nomad::server
