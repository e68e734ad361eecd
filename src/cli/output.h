#pragma once

// What the client commands print: the JSON objects of api/json.h with `-o json`, aligned
// tables and detail blocks for people otherwise. `now_ms` (Unix milliseconds) makes ages
// such as "5m" reproducible in tests.

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "cli/args.h"
#include "proto/nomad_lite.pb.h"

namespace nomad::cli {

// One job: the JSON object (with the replicated output tails if `with_output`), or a
// "Field  value" block followed by a table of its attempts.
void print_job(std::ostream& out, const nomad_lite::Job& job, OutputFormat format, int64_t now_ms,
               bool with_output = false);

// {"jobs": [...]}, or a table: ID (short), STATUS, EXIT, NODE, AGE, COMMAND (truncated).
void print_jobs(std::ostream& out, const std::vector<nomad_lite::Job>& jobs, OutputFormat format,
                int64_t now_ms);

// The cluster object, or the leader and term followed by a table of the nodes.
void print_cluster(std::ostream& out, const nomad_lite::GetClusterStatusResponse& status,
                   OutputFormat format);

// How an attempt or a job ended, for tables: "3", "SIGKILL (9)", or "-".
std::string exit_text(bool has_exit_code, int32_t exit_code, int32_t signal);

// "42s", "5m", "3h", "2d": the largest whole unit; "0s" for the future.
std::string format_age(int64_t elapsed_ms);

// A size for people: "812 B", "512.0 KiB", "64.0 MiB", "1.5 GiB".
std::string format_bytes(uint64_t bytes);

// CPU time for people: "0.42s", "12.30s", then as format_duration ("2m5s").
std::string format_cpu_time(uint64_t ms);

// For each id, its shortest prefix of at least `min_length` characters that no other of
// `ids` shares (the whole id if it needs that).
std::vector<std::string> short_ids(const std::vector<std::string>& ids, size_t min_length = 8);

}  // namespace nomad::cli
