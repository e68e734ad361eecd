#include "server/node_host.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "server/secret_files.h"

namespace nomad::server {
namespace {

// Names the cluster in the WAL: a directory written for another cluster is refused.
std::string cluster_name(const node::ServerConfig& config) {
  std::vector<uint64_t> ids{config.node_id};
  for (const auto& p : config.peers) ids.push_back(p.id);
  std::sort(ids.begin(), ids.end());
  std::string out;
  for (uint64_t id : ids) out += (out.empty() ? "" : ",") + std::to_string(id);
  return out;
}

Status check_writable(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::error("cannot create data directory " + dir + ": " + ec.message());
  std::string probe = dir + "/.write-test";
  FILE* f = fopen(probe.c_str(), "w");
  if (!f) return Status::error("data directory " + dir + " is not writable: " + strerror(errno));
  fclose(f);
  std::filesystem::remove(probe, ec);
  return Status::ok();
}

}  // namespace

NodeHost::NodeHost(const node::ServerConfig& config)
    : config_(config),
      log_(config.effective_data_dir() + "/wal",
           {.node_id = config.node_id, .cluster = cluster_name(config), .fsync = config.fsync}),
      snapshots_(config.effective_data_dir() + "/snap", config.fsync),
      peers_(config.node_id, config.peers),
      worker_(config),
      node_(config,
            {.log = &log_, .snapshots = &snapshots_, .peers = &peers_, .worker = &worker_}) {
  worker_.attach(node_);
}

Status NodeHost::start() {
  const std::string dir = config_.effective_data_dir();
  if (Status s = check_writable(dir); !s) return s;
  if (Status s = make_data_dir_private(dir, config_); !s) return s;
  return node_.start();
}

}  // namespace nomad::server
