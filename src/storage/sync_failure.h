#pragma once

// What a process does when an fsync of its WAL fails: it stops. After a failed fsync the
// kernel may already have dropped the pages it could not write and marked them clean, so a
// second fsync can succeed although the data never reached the disk (PostgreSQL's
// "fsyncgate", 2018). Retrying would turn a loud failure into silent loss; restarting
// recovers from what the disk really holds.

#include <string>

#include "common/status.h"

namespace nomad::storage {

// EX_IOERR (sysexits.h): the exit status of a node stopped by a failed fsync.
inline constexpr int kExitSyncFailed = 74;

// The operator's message: the failed call, the file and the error, why the node stops and
// how to recover.
std::string sync_failure_message(const Status& failure);

}  // namespace nomad::storage
