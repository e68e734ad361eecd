#pragma once

// What `bench agents` reads about a server process on this machine: its CPU time and resident
// memory from /proc/<pid>, and which process listens on a TCP port (to find the leader's pid
// from its address). Linux only; every function says when it could not tell.

#include <cstdint>
#include <optional>
#include <string>

namespace nomad::cli {

struct ProcessSample {
  double cpu_seconds = 0;  // user + system, since the process started
  uint64_t rss_bytes = 0;  // resident set now
};

// /proc/<pid>/stat and /proc/<pid>/statm; nullopt when the process is gone or unreadable.
std::optional<ProcessSample> sample_process(int pid);

// The pid of the process holding a listening TCP socket on `port` (IPv4 or IPv6, any local
// address), found through /proc/net/tcp{,6} and the processes' open descriptors; 0 when none
// is found (no such socket, or it belongs to a process this user may not inspect).
int find_listening_pid(int port);

// The port of "host:port" ("[::1]:port"), or 0; and whether the host is this machine's
// loopback (127.0.0.0/8, ::1, localhost): only then is a pid found by port the server's.
int address_port(const std::string& address);
bool is_loopback_host(const std::string& address);

}  // namespace nomad::cli
