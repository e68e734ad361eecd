#pragma once

// A request counter's children by result code (gRPC status, HTTP status), for one fixed set
// of the other labels (method, route). The family's child for a code is looked up once, under
// the family's lock, and then read from an atomic slot: counting a request takes no lock.

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "metrics/registry.h"

namespace nomad::metrics {

class CounterByCode {
 public:
  // Codes 0..max_code; `code_name` gives the label value of one. The code is the last label.
  CounterByCode(Family<Counter>& family, LabelValues others, int max_code,
                std::function<std::string(int)> code_name);

  // A code outside 0..max_code counts as max_code.
  Counter& at(int code);

 private:
  Family<Counter>& family_;
  LabelValues others_;
  int max_code_;
  std::function<std::string(int)> code_name_;
  std::unique_ptr<std::atomic<Counter*>[]> slots_;
};

}  // namespace nomad::metrics
