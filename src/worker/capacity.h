#pragma once

// What a worker offers jobs (CPU cores, memory, labels, a name): by default what the machine
// has, overridden by the --cpu, --memory, --label and --node-name flags of `server` and
// `agent`. The worker reports it; the leader places jobs by it.

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "proto/nomad_lite.pb.h"

namespace nomad::worker {

struct CapacityFlags {
  std::string cpu;                  // "" : the machine's cores; else cores, e.g. "2" or "0.5"
  std::string memory;               // "" : the machine's memory; else a size, e.g. "4GiB"
  std::vector<std::string> labels;  // "key=value", each key at most once
  std::string name;                 // "" : the host name
};

// The machine's usable cores (CPU affinity), its memory (MemTotal, or the memory cgroup's
// limit when lower) and its host name; no labels.
nomad_lite::NodeCapacity machine_capacity();

// `flags` over machine_capacity(). An error names the flag and what to write instead.
Status capacity_from_flags(const CapacityFlags& flags, nomad_lite::NodeCapacity* out);

// "key=value": a key of letters, digits, '.', '_', '-', '/' (at most 63), a value of at most
// 255 printable characters without spaces (may be empty).
Status parse_label(std::string_view text, std::string* key, std::string* value);

}  // namespace nomad::worker
