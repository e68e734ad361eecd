#pragma once

// Proto messages of the client API as JSON, the one shape every interface shows: `-o json`
// of the CLI and the REST API both print exactly these objects. Transport-neutral: it knows
// protobuf messages and nlohmann::json, nothing of gRPC or HTTP.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "proto/nomad_lite.pb.h"

namespace nomad::api {

// "pending", "running", "completed", "failed", "cancelled"; "unknown" for UNSPECIFIED.
std::string_view job_status_name(nomad_lite::JobStatus status);

// The inverse of job_status_name for the five real statuses (also accepts "canceled").
std::optional<nomad_lite::JobStatus> parse_job_status(std::string_view name);

// Unix milliseconds as RFC 3339 UTC with milliseconds: "2024-05-01T12:34:56.789Z".
std::string format_timestamp(int64_t unix_ms);

// {"id", "command", "status", "reason", "pending_reason", "exit_code", "node_id", "attempt",
//  "created_at", "started_at", "finished_at", "timeout", "retries", "env"}. Values that are
// not there yet (no exit code, no node, not started, no timeout, no reason) are null.
nlohmann::json job_to_json(const nomad_lite::Job& job);

// {"node_id", "role", "leader_id", "leader_address", "term", "commit_index", "applied_index",
//  "nodes": [{"id", "address", "role", "alive", "match_index", "last_contact_ms"}]}.
// leader_id and leader_address are null while no leader is known, last_contact_ms while the
// node was never heard from.
nlohmann::json cluster_to_json(const nomad_lite::GetClusterStatusResponse& status);

}  // namespace nomad::api
