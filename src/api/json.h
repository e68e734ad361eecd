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

// "stop" or "keep-running" (what a job's worker does when cut off from the leader), and back.
std::string_view on_disconnect_name(nomad_lite::OnDisconnect value);
std::optional<nomad_lite::OnDisconnect> parse_on_disconnect(std::string_view name);

// Unix milliseconds as RFC 3339 UTC with milliseconds: "2024-05-01T12:34:56.789Z".
std::string format_timestamp(int64_t unix_ms);

// How much of a job to show: lists leave out the output tails (up to 64 KiB each).
enum class JobJson { kSummary, kWithOutput };

// {"id", "command", "status", "reason", "pending_reason", "error", "exit_code", "signal",
//  "node_id", "attempt", "priority", "created_at", "started_at", "finished_at", "not_before",
//  "timeout", "retries", "lost_retries", "on_disconnect", "env", "cpu" (cores; null: none
//  asked), "memory" (bytes; null: none asked), "constraints" (["gpu==true", ...]),
//  "attempts": [attempt_to_json...], "periodic_id", "tick", "after": [ids]}; kWithOutput
// adds "stdout_tail", "stderr_tail" (text; bytes that are not UTF-8 become U+FFFD),
// "stdout_truncated" and "stderr_truncated". Values
// that are not there yet (no exit code, no signal, no node, not started, no timeout, no
// reason, no error) are null.
nlohmann::json job_to_json(const nomad_lite::Job& job, JobJson detail = JobJson::kSummary);

// {"number", "node_id", "status", "reason", "exit_code", "signal", "assigned_at",
//  "started_at", "finished_at", "error"}, null where absent as in job_to_json.
nlohmann::json attempt_to_json(const nomad_lite::Attempt& attempt);

// `bytes` as valid UTF-8: every byte that does not belong to a well-formed sequence is
// replaced by U+FFFD.
std::string valid_utf8(std::string_view bytes);

// {"node_id", "role", "leader_id", "leader_address", "term", "commit_index", "applied_index",
//  "nodes": [{"id", "address", "role", "alive", "match_index", "last_contact_ms", "scheduling",
//  "running_jobs", "slots", "name", "cpu", "memory", "labels": {"k": "v"}, "cpu_used",
//  "memory_used"}]} (cpu in cores, memory in bytes, as its worker last reported them; the
//  used ones: what the attempts placed there and not finished asked for).
// leader_id and leader_address are null while no leader is known, last_contact_ms while the
// node was never heard from.
nlohmann::json cluster_to_json(const nomad_lite::GetClusterStatusResponse& status);

// A node's drain and eligibility: {"node_id", "state" (eligible, ineligible, draining,
// drained), "eligible", "draining", "drain_deadline_ms" (null: none), "drain_started_ms",
// "drained_at_ms"} (the times null when 0). Each node of cluster_to_json carries it as
// "scheduling", next to "running_jobs".
nlohmann::json scheduling_to_json(const nomad_lite::NodeScheduling& node);

}  // namespace nomad::api
