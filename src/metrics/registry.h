#pragma once

// The metrics a process exposes at GET /metrics, rendered in Prometheus's text exposition
// format 0.0.4. A family is one metric name with its help text, type and label names; its
// children are the label sets seen so far. Looking a child up takes the family's lock, so
// code on a hot path looks its children up once and keeps the reference (children live as
// long as the registry). Figures that are state rather than events (job counts, indexes,
// slots) are read at scrape time by a collector instead of being kept up to date.
//
// default_registry() is the process's: a node is one process, as with Prometheus's own
// client libraries.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "metrics/metric.h"

namespace nomad::metrics {

enum class Type { kCounter, kGauge, kHistogram };
const char* type_name(Type type);

using LabelValues = std::vector<std::string>;

template <class Metric>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::function<std::unique_ptr<Metric>()> make)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        make_(std::move(make)) {}

  // The child for these label values (one per label name, in order); made on first use.
  // Throws std::invalid_argument when the number of values is wrong (a programming error).
  Metric& with(const LabelValues& values);
  // The one child of a family without labels.
  Metric& get() { return with({}); }

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Calls visit(values, metric) for every child, in label order.
  template <class Visit>
  void for_each(Visit&& visit) const {
    std::lock_guard lock(mu_);
    for (const auto& [values, metric] : children_) visit(values, *metric);
  }

 private:
  std::string name_, help_;
  std::vector<std::string> label_names_;
  std::function<std::unique_ptr<Metric>()> make_;
  mutable std::mutex mu_;
  std::map<LabelValues, std::unique_ptr<Metric>> children_;
};

// What a collector reports at scrape time: one family and its samples.
struct Sample {
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};
struct CollectedFamily {
  std::string name, help;
  Type type = Type::kGauge;  // counters and gauges only
  std::vector<Sample> samples;
};
using Collector = std::function<void(std::vector<CollectedFamily>& out)>;

class Registry;

// Removes its collector from the registry when destroyed (the collector's objects go first).
class CollectorHandle {
 public:
  CollectorHandle() = default;
  CollectorHandle(Registry* registry, uint64_t id) : registry_(registry), id_(id) {}
  CollectorHandle(CollectorHandle&& o) noexcept { *this = std::move(o); }
  CollectorHandle& operator=(CollectorHandle&& o) noexcept;
  ~CollectorHandle() { reset(); }
  void reset();

 private:
  Registry* registry_ = nullptr;
  uint64_t id_ = 0;
};

class Registry {
 public:
  // The family of this name, made on first use; asking again with the same type returns the
  // same family. A name already used for another type, or with other label names, throws
  // std::invalid_argument (a programming error).
  Family<Counter>& counter(const std::string& name, const std::string& help,
                           std::vector<std::string> label_names = {});
  Family<Gauge>& gauge(const std::string& name, const std::string& help,
                       std::vector<std::string> label_names = {});
  Family<Histogram>& histogram(const std::string& name, const std::string& help,
                               std::vector<double> upper_bounds,
                               std::vector<std::string> label_names = {});

  // `collect` runs at every scrape (on the scraping thread) until the handle goes.
  [[nodiscard]] CollectorHandle add_collector(Collector collect);

  // Every family in text exposition format 0.0.4, sorted by name.
  std::string render() const;

 private:
  friend class CollectorHandle;
  void remove_collector(uint64_t id);
  void check_free(const std::string& name, Type type,
                  const std::vector<std::string>& label_names) const;

  struct Entry {
    Type type;
    std::unique_ptr<Family<Counter>> counter;
    std::unique_ptr<Family<Gauge>> gauge;
    std::unique_ptr<Family<Histogram>> histogram;
  };
  mutable std::mutex mu_;
  std::map<std::string, Entry> families_;
  uint64_t next_collector_ = 1;
  std::map<uint64_t, std::shared_ptr<Collector>> collectors_;
};

Registry& default_registry();

// The content type of render()'s text.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

template <class Metric>
Metric& Family<Metric>::with(const LabelValues& values) {
  if (values.size() != label_names_.size()) {
    throw std::invalid_argument(name_ + ": " + std::to_string(label_names_.size()) +
                                " label values needed, " + std::to_string(values.size()) +
                                " given");
  }
  std::lock_guard lock(mu_);
  auto& slot = children_[values];
  if (!slot) slot = make_();
  return *slot;
}

}  // namespace nomad::metrics
