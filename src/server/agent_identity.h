#pragma once

// Which agent a data directory belongs to: the id the cluster gave it and the cluster's name,
// kept in <data-dir>/agent.json from its first registration, so that a restarted agent
// registers as the same agent (and never runs again an attempt it started: its executor's
// files in <data-dir>/jobs say which it did).

#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"

namespace nomad::server {

struct AgentIdentity {
  uint64_t id = 0;
  std::string cluster;
};

// Reads <data_dir>/agent.json: *out stays empty when the file does not exist. A file that does
// not parse is an error naming it and what to do.
Status load_agent_identity(const std::string& data_dir, std::optional<AgentIdentity>* out);
// Writes it atomically (temporary file, fsync, rename, directory fsync), mode 0600.
Status save_agent_identity(const std::string& data_dir, const AgentIdentity& identity);

}  // namespace nomad::server
