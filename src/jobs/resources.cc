#include "jobs/resources.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>

#include "common/byte_size.h"
#include "jobs/node_capacity.h"

namespace nomad::jobs {
namespace {

// Shown back in an error: at most 80 bytes, unprintable bytes as '?'.
std::string shown(std::string_view text) {
  std::string out(text.substr(0, 80));
  for (char& c : out) {
    if (!std::isprint(static_cast<unsigned char>(c))) c = '?';
  }
  return "\"" + out + (text.size() > 80 ? "...\"" : "\"");
}

std::string memory_text(uint64_t bytes) { return format_byte_size(bytes) + " memory"; }

}  // namespace

int64_t to_millicores(double cores) {
  if (!std::isfinite(cores) || cores <= 0) return 0;
  return static_cast<int64_t>(std::llround(std::min(cores, 1e12) * 1000));
}

Usage usage_of(const nomad_lite::Resources& resources) {
  return {to_millicores(resources.cpu()), resources.memory_bytes()};
}

nomad_lite::Resources to_resources(const Usage& usage) {
  nomad_lite::Resources r;
  r.set_cpu(static_cast<double>(usage.millicores) / 1000);
  r.set_memory_bytes(usage.memory_bytes);
  return r;
}

std::string format_cores(int64_t millicores) {
  char text[32];
  if (millicores % 1000 == 0) {
    std::snprintf(text, sizeof text, "%lld", static_cast<long long>(millicores / 1000));
  } else {
    std::snprintf(text, sizeof text, "%.3f", static_cast<double>(millicores) / 1000);
    std::string t = text;
    while (t.back() == '0') t.pop_back();
    return t + " cores";
  }
  return std::string(text) + (millicores == 1000 ? " core" : " cores");
}

bool Constraint::holds(const google::protobuf::Map<std::string, std::string>& labels) const {
  auto it = labels.find(key);
  bool same = it != labels.end() && it->second == value;
  return equal ? same : !same;
}

Status parse_constraint(std::string_view text, Constraint* out) {
  const std::string what = shown(text);
  size_t at = text.find("==");
  size_t ne = text.find("!=");
  size_t op = std::min(at, ne);
  if (op == std::string_view::npos || op == 0) {
    return Status::error(what +
                         ": write KEY==VALUE or KEY!=VALUE on a node label, e.g. gpu==true or "
                         "zone!=eu-1");
  }
  std::string_view key = text.substr(0, op), value = text.substr(op + 2);
  if (Status s = check_label(key, value); !s) return Status::error(what + ": " + s.message());
  out->key.assign(key);
  out->value.assign(value);
  out->equal = op == at;
  return Status::ok();
}

Status check_job_needs(const nomad_lite::Resources& resources,
                       const google::protobuf::RepeatedPtrField<std::string>& constraints,
                       const FieldNames& names) {
  const std::string cpu_name = names.cpu, memory_name = names.memory;
  double cpu = resources.cpu();
  if (std::isnan(cpu) || std::isinf(cpu) || cpu < 0) {
    return Status::error(cpu_name + ": give the cores the job needs as a number above 0, e.g. " +
                         cpu_name + " 0.5");
  }
  if (cpu > kMaxJobCpu) {
    return Status::error(cpu_name + ": " + std::to_string(cpu) + " cores is more than the limit " +
                         std::to_string(static_cast<int>(kMaxJobCpu)));
  }
  if (cpu > 0 && to_millicores(cpu) == 0) {
    return Status::error(cpu_name + ": at least 0.001 cores (one millicore) when given");
  }
  uint64_t memory = resources.memory_bytes();
  if (memory != 0 && memory < (uint64_t{1} << 20)) {
    return Status::error(memory_name + ": " + format_byte_size(memory) +
                         " is too little for a process; give at least 1MiB, e.g. 256MiB");
  }
  if (memory > kMaxJobMemory) {
    return Status::error(memory_name + ": " + format_byte_size(memory) +
                         " is more than the limit " + format_byte_size(kMaxJobMemory));
  }
  if (static_cast<size_t>(constraints.size()) > kMaxConstraints) {
    return Status::error(std::string(names.constraint) + ": " + std::to_string(constraints.size()) +
                         " constraints; the limit is " + std::to_string(kMaxConstraints));
  }
  for (const auto& text : constraints) {
    Constraint c;
    if (Status s = parse_constraint(text, &c); !s) {
      return Status::error(std::string(names.constraint) + " " + s.message());
    }
  }
  return Status::ok();
}

Needs needs_of(const nomad_lite::Resources& resources,
               const google::protobuf::RepeatedPtrField<std::string>& constraints) {
  Needs needs;
  needs.usage = usage_of(resources);
  for (const auto& text : constraints) {
    Constraint c;
    if (parse_constraint(text, &c)) {
      needs.constraints.push_back(std::move(c));
    } else if (needs.bad_constraint.empty()) {
      needs.bad_constraint = text;
    }
  }
  return needs;
}

Needs needs_of(const nomad_lite::Job& job) { return needs_of(job.resources(), job.constraints()); }

bool NodeRoom::matches(const Needs& needs) const {
  if (!needs.bad_constraint.empty()) return false;
  static const google::protobuf::Map<std::string, std::string> kNoLabels;
  const auto& labels = capacity ? capacity->labels() : kNoLabels;
  for (const auto& c : needs.constraints) {
    if (!c.holds(labels)) return false;
  }
  return true;
}

bool NodeRoom::could_ever_fit(const Needs& needs) const {
  if (!capacity) return true;
  return needs.usage.millicores <= to_millicores(capacity->cpu()) &&
         needs.usage.memory_bytes <= capacity->memory_bytes();
}

bool NodeRoom::has_room(const Needs& needs) const {
  if (!capacity) return true;
  return needs.usage.millicores <= free.millicores && needs.usage.memory_bytes <= free.memory_bytes;
}

double NodeRoom::free_share() const {
  if (!capacity) return 1;
  double share = 1;
  int64_t cpu = to_millicores(capacity->cpu());
  if (cpu > 0)
    share = std::min(share, static_cast<double>(std::max<int64_t>(free.millicores, 0)) / cpu);
  if (capacity->memory_bytes() > 0) {
    share = std::min(share, static_cast<double>(free.memory_bytes) /
                                static_cast<double>(capacity->memory_bytes()));
  }
  return share;
}

std::string unfit_reason(const Needs& needs, const std::vector<NodeRoom>& nodes) {
  if (!needs.bad_constraint.empty()) {
    return "constraint " + shown(needs.bad_constraint) + " is not KEY==VALUE or KEY!=VALUE";
  }
  if (nodes.empty()) return "";
  std::vector<const NodeRoom*> matching;
  for (const auto& n : nodes) {
    if (n.matches(needs)) matching.push_back(&n);
  }
  if (matching.empty()) {
    for (const auto& c : needs.constraints) {
      Needs one;
      one.constraints.push_back(c);
      bool any = std::any_of(nodes.begin(), nodes.end(),
                             [&](const NodeRoom& n) { return n.matches(one); });
      if (!any) {
        return c.equal ? "no node with label " + c.key + "=" + c.value
                       : "every node has label " + c.key + "=" + c.value + " (constraint " +
                             c.text() + ")";
      }
    }
    std::string all;
    for (const auto& c : needs.constraints) all += (all.empty() ? "" : ", ") + c.text();
    return "no node meets all its constraints at once (" + all + ")";
  }
  const std::string with = needs.constraints.empty() ? "" : " matching its constraints";
  const Usage& need = needs.usage;
  // Its whole capacity: a job larger than every node waits until a larger node joins.
  int64_t most_cpu = 0;
  uint64_t most_memory = 0;
  bool any_whole = false;
  for (const NodeRoom* n : matching) {
    if (n->could_ever_fit(needs)) any_whole = true;
    if (!n->capacity) {
      most_cpu = std::numeric_limits<int64_t>::max();
      most_memory = std::numeric_limits<uint64_t>::max();
      continue;
    }
    most_cpu = std::max(most_cpu, to_millicores(n->capacity->cpu()));
    most_memory = std::max(most_memory, n->capacity->memory_bytes());
  }
  if (!any_whole) {
    if (need.memory_bytes > most_memory) {
      return "needs " + memory_text(need.memory_bytes) + ", more than any node" + with +
             " has (the largest has " + format_byte_size(most_memory) + ")";
    }
    if (need.millicores > most_cpu) {
      return "needs " + format_cores(need.millicores) + ", more than any node" + with +
             " has (the largest has " + format_cores(most_cpu) + ")";
    }
    return "needs " + format_cores(need.millicores) + " and " + memory_text(need.memory_bytes) +
           ": no node" + with + " has both";
  }
  int64_t free_cpu = 0;
  uint64_t free_memory = 0;
  for (const NodeRoom* n : matching) {
    if (n->has_room(needs)) return "";
    if (!n->capacity) continue;
    free_cpu = std::max(free_cpu, n->free.millicores);
    free_memory = std::max(free_memory, n->free.memory_bytes);
  }
  if (need.memory_bytes > free_memory) {
    return "needs " + memory_text(need.memory_bytes) + ", at most " +
           format_byte_size(free_memory) + " free on any node" + with;
  }
  if (need.millicores > free_cpu) {
    char cores[32];
    std::snprintf(cores, sizeof cores, "%.1f", static_cast<double>(free_cpu) / 1000);
    return "needs " + format_cores(need.millicores) + ", at most " + cores + " free on any node" +
           with;
  }
  return "needs " + format_cores(need.millicores) + " and " + memory_text(need.memory_bytes) +
         ": no node" + with + " has both free at once";
}

}  // namespace nomad::jobs
