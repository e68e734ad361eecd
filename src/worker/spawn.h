#pragma once

// Starting one job process: vfork + setrlimit + execve (why not posix_spawn or fork: see
// spawn.cc). The child gets its own process group, default signal dispositions and an empty
// signal mask, the given stdio, working directory and resource limits, and no other file
// descriptor of the server.

#include <sys/resource.h>
#include <sys/types.h>

#include <string>
#include <vector>

namespace nomad::worker {

struct SpawnLimits {
  rlim_t open_files = 4096;  // RLIMIT_NOFILE
  rlim_t processes = 4096;   // RLIMIT_NPROC (not enforced for root)
  rlim_t core_size = 0;      // RLIMIT_CORE
};

struct SpawnRequest {
  std::string program;            // absolute path: execve does no PATH search
  std::vector<std::string> argv;  // argv[0] included
  std::vector<std::string> env;   // "NAME=value": the whole environment of the child
  std::string cwd;
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;  // each >= 3 (see above_stdio)
  SpawnLimits limits;
};

struct SpawnOutcome {
  pid_t pid = -1;     // > 0: running, leader of its own process group (pgid == pid)
  std::string error;  // pid <= 0: why, e.g. "cannot execute /bin/sh: No such file or directory"
};

// Never throws; a failure to start is an outcome, and a child that failed is already reaped.
SpawnOutcome spawn_process(const SpawnRequest& request);

// `fd` moved to a descriptor >= 3 (close-on-exec), so that dup2 onto 0, 1 and 2 in the child
// cannot clobber another source. Returns fd itself when it is already >= 3, -1 on error.
int above_stdio(int fd);

}  // namespace nomad::worker
