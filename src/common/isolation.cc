#include "common/isolation.h"

namespace nomad::common {

const char* isolation_name(Isolation isolation) {
  switch (isolation) {
    case Isolation::kRaw:
      return "raw";
    case Isolation::kSandbox:
      return "sandbox";
  }
  return "unknown";
}

bool isolation_from_name(const std::string& name, Isolation* isolation) {
  for (Isolation i : {Isolation::kRaw, Isolation::kSandbox}) {
    if (name == isolation_name(i)) {
      *isolation = i;
      return true;
    }
  }
  return false;
}

}  // namespace nomad::common
