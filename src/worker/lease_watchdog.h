#pragma once

// A small process apart from the server that enforces the worker's lease (lease.h) while the
// server itself cannot: paused (SIGSTOP), stalled or swapped out. Job processes run in
// process groups of their own and keep running whatever happens to the server, so without it
// a paused node's attempt would still run when the leader, hearing nothing, declares it lost
// and starts the next one elsewhere.
//
// It is forked when the worker starts and shares one page with it: the lease's end on the
// monotonic clock (CLOCK_MONOTONIC, which std::chrono::steady_clock reads here, is the same
// for every process of the machine) and the process groups of the attempts that stop on
// disconnect. Every 20 ms it looks: past the lease's end it sends SIGTERM to each group, and
// SIGKILL kill_grace later, exactly as the worker would. When the server dies it SIGKILLs the
// groups (a restarted node never resumes an attempt) and exits. It uses only
// async-signal-safe calls (it is a fork of a threaded process). A group leaves the page before its
// leader is reaped, so its id cannot have been reused by then.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace nomad::worker {

class LeaseWatchdog {
 public:
  // Null, with *error set, when the page or the process cannot be made.
  static std::unique_ptr<LeaseWatchdog> start(std::chrono::milliseconds kill_grace,
                                              std::string* error);
  ~LeaseWatchdog();  // kills the process and waits for it
  LeaseWatchdog(const LeaseWatchdog&) = delete;
  LeaseWatchdog& operator=(const LeaseWatchdog&) = delete;

  // The lease ends then (a steady_clock time); time_point{}: no lease held.
  void set_expiry(std::chrono::steady_clock::time_point expires);
  // Guards a group while its attempt runs. False when the page is full (kMaxGroups).
  bool add(pid_t group);
  // Before the group's leader is reaped. True when the watchdog signalled it.
  bool remove(pid_t group);

  static constexpr size_t kMaxGroups = 4096;

 private:
  struct Page;
  LeaseWatchdog(Page* page, pid_t pid) : page_(page), pid_(pid) {}

  Page* page_;
  pid_t pid_;
};

}  // namespace nomad::worker
