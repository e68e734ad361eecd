#pragma once

// `job wait` and `job submit --wait`: WaitJob calls of up to a minute each until the job is
// final, then the job is printed and its outcome becomes the exit code, so that scripts can
// use nomad-lite like the command itself.

#include <chrono>
#include <optional>
#include <ostream>
#include <string>

#include "cli/args.h"
#include "cli/client.h"
#include "proto/nomad_lite.pb.h"

namespace nomad::cli {

// Exit codes besides the job's own exit code (documented in README.md, "The CLI").
inline constexpr int kExitError = 1;         // a call failed, the job is unknown, ...
inline constexpr int kExitInvalid = 2;       // the command line is wrong, or the server refused
                                             // what it asked as invalid (INVALID_ARGUMENT)
inline constexpr int kExitWaitTimeout = 3;   // the CLI's --timeout passed first
inline constexpr int kExitJobTimeout = 124;  // the job hit its own --timeout (as timeout(1))
inline constexpr int kExitJobNotRun = 125;   // lost with its node, or could not be started
inline constexpr int kExitSignalBase = 128;  // + N: killed by signal N (as sh does)
inline constexpr int kExitCancelled = 130;   // cancelled (as a shell after Ctrl-C)

// completed, failed or cancelled.
bool job_is_final(const nomad_lite::Job& job);

// The exit code that stands for a final job's outcome: its exit code when it completed or
// failed with one; 124 for reason timeout; 125 for lost and spawn_error; 130 when
// cancelled; 128+N when signal N ended it (and no timeout did); 1 for a failure with no
// code at all. nullopt while the job is pending or running.
std::optional<int> job_exit_code(const nomad_lite::Job& job);

// Waits for the job `id` (or the one job whose id starts with it) to be final, prints it
// and returns job_exit_code. After `deadline` (nullopt: none) it gives up with a line on
// `err` and kExitWaitTimeout; a failed call is reported as `what` and gives kExitError.
// While no server answers, the addresses are tried until the deadline, or for a minute when
// there is none.
int wait_for_job(Client& client, const std::string& id,
                 std::optional<std::chrono::steady_clock::time_point> deadline, OutputFormat format,
                 const std::string& what, std::ostream& out, std::ostream& err);

}  // namespace nomad::cli
