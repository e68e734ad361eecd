#pragma once

// Starting one job process: vfork + setrlimit + execve (why not posix_spawn or fork: see
// spawn.cc). The child gets its own process group, default signal dispositions and an empty
// signal mask, the given stdio, working directory and resource limits, the given user and
// groups, and no other file descriptor of the server.

#include <sys/resource.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace nomad::worker {

struct SpawnLimits {
  rlim_t open_files = 4096;  // RLIMIT_NOFILE
  rlim_t processes = 4096;   // RLIMIT_NPROC (not enforced for root)
  rlim_t core_size = 0;      // RLIMIT_CORE
};

// A user to run jobs as, looked up before vfork: the child cannot read /etc/passwd (NSS
// allocates and locks).
struct Identity {
  std::string name;  // for messages and USER / LOGNAME
  uid_t uid = 0;
  gid_t gid = 0;              // the user's primary group
  std::vector<gid_t> groups;  // supplementary groups, as getgrouplist gives them (gid included)
};

// The user `name` from the password database (getpwnam_r) with its groups (getgrouplist).
// Errors: "no such user" when it does not exist, else what the lookup failed with.
Status lookup_identity(const std::string& name, Identity* out);

struct SpawnRequest {
  std::string program;            // absolute path: execve does no PATH search
  std::string shown_as;           // the program errors name, "" for `program` (an init's job)
  std::vector<std::string> argv;  // argv[0] included
  std::vector<std::string> env;   // "NAME=value": the whole environment of the child
  std::string cwd;
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;  // each >= 3 (see above_stdio)
  SpawnLimits limits;
  // Set: the child switches to it (setgroups, setgid, setuid) after the working directory and
  // the limits are set, so the server needs root. Unset: the child keeps the server's.
  std::optional<Identity> run_as;
  // Descriptors open for writing on cgroup.procs files: the child writes "0" (itself) to each
  // first thing, so that the command and all it starts run in those cgroups (worker/cgroup.h).
  std::vector<int> cgroup_fds;
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
