#include "metrics/by_code.h"

namespace nomad::metrics {

CounterByCode::CounterByCode(Family<Counter>& family, LabelValues others, int max_code,
                             std::function<std::string(int)> code_name)
    : family_(family),
      others_(std::move(others)),
      max_code_(max_code),
      code_name_(std::move(code_name)),
      slots_(std::make_unique<std::atomic<Counter*>[]>(max_code + 1)) {}

Counter& CounterByCode::at(int code) {
  if (code < 0 || code > max_code_) code = max_code_;
  Counter* c = slots_[code].load(std::memory_order_acquire);
  if (c) return *c;
  LabelValues values = others_;
  values.push_back(code_name_(code));
  c = &family_.with(values);  // the same child whichever thread gets here first
  slots_[code].store(c, std::memory_order_release);
  return *c;
}

}  // namespace nomad::metrics
