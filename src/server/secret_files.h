#pragma once

// Least privilege at start-up: jobs run as another user (--job-user, nobody by default for a
// root server) must not be able to read what makes this node trusted. The token file, the TLS
// key, a CA key next to the certificates, the data directory's listing, its Raft log and
// snapshots are checked against that user's rights (mode bits of the file and of every
// directory on the way; ACLs are not read), before a port is opened.

#include <string>

#include "common/status.h"
#include "server/server.h"
#include "worker/spawn.h"

namespace nomad::server {

// Whether `user` may open `path` for reading (want_read) or search it (a directory, for
// !want_read), judged by the mode bits of the path and of each directory on the way to it.
// A missing path counts as not readable.
bool accessible_by(const std::string& path, const worker::Identity& user, bool want_read);

// Every secret file of `config` that the job user could read, named with the chmod that fixes
// it; OK when there is no job user (jobs run as the server's own user: nothing to keep apart).
Status check_secrets_private(const ServerConfig& config);

// The data directory and its log and snapshot directories, made private as the server creates
// them: `dir` and jobs/ 0711 (the job user reaches its work directory below but cannot list
// the others), wal/ and snap/ 0700. One it can list is made so when it is the server's, else
// refused with the chmod that fixes it.
Status make_data_dir_private(const std::string& dir, const ServerConfig& config);

}  // namespace nomad::server
