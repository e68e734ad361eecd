#pragma once

// What a job asks of the node it runs on (CPU, memory, node labels) and what a node has left:
// the one rule placement (scheduler.cc) and a pending job's reason (JobStore::pending_reason)
// share, and the checks a submission's resources and constraints pass (api, cli).
//
// CPU is counted in millicores (integers): sums of attempts placed and finished then add up
// exactly, on every replica alike, where doubles would drift.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "proto/nomad_lite.pb.h"

namespace nomad::jobs {

inline constexpr size_t kMaxConstraints = 16;
inline constexpr double kMaxJobCpu = 4096;                    // cores
inline constexpr uint64_t kMaxJobMemory = uint64_t{1} << 50;  // 1 PiB

// CPU and memory, as a job's need or a node's reservation.
struct Usage {
  int64_t millicores = 0;
  uint64_t memory_bytes = 0;

  void add(const Usage& o) {
    millicores += o.millicores;
    memory_bytes += o.memory_bytes;
  }
  void remove(const Usage& o) {
    millicores -= std::min(millicores, o.millicores);
    memory_bytes -= std::min(memory_bytes, o.memory_bytes);
  }
  bool empty() const { return millicores == 0 && memory_bytes == 0; }
};

int64_t to_millicores(double cores);
Usage usage_of(const nomad_lite::Resources& resources);
nomad_lite::Resources to_resources(const Usage& usage);

// "2 cores", "0.5 cores", "1 core".
std::string format_cores(int64_t millicores);

// "KEY==VALUE" or "KEY!=VALUE" on a node's labels. A node without the label fails KEY==VALUE
// and passes KEY!=VALUE.
struct Constraint {
  std::string key;
  std::string value;
  bool equal = true;

  bool holds(const google::protobuf::Map<std::string, std::string>& labels) const;
  std::string text() const { return key + (equal ? "==" : "!=") + value; }
};

// The key follows the rules of a node's --label key: letters, digits, '.', '_', '-', '/', at
// most 63; the value at most 255 printable characters without spaces (may be empty). The error
// starts with the text, quoted ("\"gpu=true\": write KEY==VALUE ...").
Status parse_constraint(std::string_view text, Constraint* out);

// A submission's resources and constraints: CPU finite and above 0 when given (at most
// kMaxJobCpu), memory at most kMaxJobMemory, at most kMaxConstraints constraints, each well
// formed. The error names the field as `cpu_name`/`memory_name`/`constraint_name` say.
struct FieldNames {
  const char* cpu = "cpu";
  const char* memory = "memory";
  const char* constraint = "constraint";
};
Status check_job_needs(const nomad_lite::Resources& resources,
                       const google::protobuf::RepeatedPtrField<std::string>& constraints,
                       const FieldNames& names = {});

// What one job needs, parsed once per placement.
struct Needs {
  Usage usage;
  std::vector<Constraint> constraints;
  std::string bad_constraint;  // a constraint that does not parse (none passes validation)
};
Needs needs_of(const nomad_lite::Resources& resources,
               const google::protobuf::RepeatedPtrField<std::string>& constraints);
Needs needs_of(const nomad_lite::Job& job);

// One node as placement sees it.
struct NodeRoom {
  uint64_t node_id = 0;
  const nomad_lite::NodeCapacity* capacity = nullptr;  // null: never reported: no limits known
  Usage free;              // capacity minus what is reserved there (meaningless without capacity)
  int64_t free_slots = 0;  // slots (and queue room) not taken

  bool matches(const Needs& needs) const;         // the constraints hold on its labels
  bool could_ever_fit(const Needs& needs) const;  // its whole capacity is enough
  bool has_room(const Needs& needs) const;        // enough CPU and memory free now
  // Free share of its capacity, 1 without capacity: min over CPU and memory of free / total.
  double free_share() const;
};

// Why a job fits none of `nodes` (eligible nodes that run jobs), for people: "no node with
// label gpu=true", "needs 4 GiB memory, at most 1.5 GiB free on any node". "" when some
// node matches its constraints and has the CPU and memory free (a free slot aside).
std::string unfit_reason(const Needs& needs, const std::vector<NodeRoom>& nodes);

}  // namespace nomad::jobs
