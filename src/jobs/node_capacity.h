#pragma once

// The rules a node's or an agent's advertised capacity keeps (NodeCapacity: cores, memory,
// labels, name). The flags of `server` and `agent` are parsed into it, and the leader checks
// every capacity a worker reports or an agent registers with before it is replicated: a peer
// with a valid certificate must not be able to commit a million labels or NaN cores.

#include <cstddef>
#include <string_view>

#include "common/status.h"
#include "proto/nomad_lite.pb.h"

namespace nomad::jobs {

inline constexpr size_t kMaxLabelKey = 63;
inline constexpr size_t kMaxLabelValue = 255;
inline constexpr size_t kMaxLabels = 64;
inline constexpr size_t kMaxNodeName = 255;
inline constexpr double kMaxNodeCpu = 100000;  // cores

// A label's key (letters, digits, '.', '_', '-', '/', 1 to 63) and value (at most 255
// printable characters without spaces; may be empty). The error says what is wrong, without
// naming the label: the caller says where it came from.
Status check_label(std::string_view key, std::string_view value);

// Cores finite and 0 to kMaxNodeCpu, at most kMaxLabels labels each passing check_label, a
// name of at most kMaxNodeName printable characters. The error names the field.
Status check_capacity(const nomad_lite::NodeCapacity& capacity);

}  // namespace nomad::jobs
