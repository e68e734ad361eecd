#pragma once

// Jobs in namespaces of their own: on a server run as root, each job runs under
// nomad-lite-init (src/init/job_init.cc) in its own PID and mount namespace with a fresh
// /proc, so that it sees only its own processes: not another job's environment
// (/proc/PID/environ of the same user) nor the server's. Where that is not available (not
// root, no init binary, or the kernel refuses the namespaces) jobs run as plain process
// groups, as before; the executor says which once, at start.

#include <string>
#include <vector>

#include "worker/spawn.h"

namespace nomad::worker {

// The init program: `configured` if given, else nomad-lite-init in the directory of the
// running binary (/proc/self/exe).
std::string job_init_path(const std::string& configured);

// Whether jobs can run in their own namespaces here: runs `init --probe` once. Returns "" when
// they can, else why not (for the log).
std::string probe_job_namespaces(const std::string& init);

// The argv that runs `job_argv` under `init`, dropping to `user` (null: keep the server's).
std::vector<std::string> init_argv(const std::string& init, const Identity* user,
                                   const std::vector<std::string>& job_argv);

}  // namespace nomad::worker
