#include "metrics/registry.h"

#include <stdexcept>

#include "metrics/text_format.h"

namespace nomad::metrics {

const char* type_name(Type type) {
  switch (type) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

CollectorHandle& CollectorHandle::operator=(CollectorHandle&& o) noexcept {
  if (this != &o) {
    reset();
    registry_ = o.registry_;
    id_ = o.id_;
    o.registry_ = nullptr;
  }
  return *this;
}

void CollectorHandle::reset() {
  if (registry_) registry_->remove_collector(id_);
  registry_ = nullptr;
}

void Registry::check_free(const std::string& name, Type type,
                          const std::vector<std::string>& label_names) const {
  if (!valid_metric_name(name)) throw std::invalid_argument("bad metric name: " + name);
  for (const auto& l : label_names) {
    if (!valid_label_name(l) || (type == Type::kHistogram && l == "le")) {
      throw std::invalid_argument(name + ": bad label name: " + l);
    }
  }
  auto it = families_.find(name);
  if (it == families_.end()) return;
  if (it->second.type != type) {
    throw std::invalid_argument(name + " is already a " + type_name(it->second.type));
  }
  const std::vector<std::string>* known = nullptr;
  if (it->second.counter) known = &it->second.counter->label_names();
  if (it->second.gauge) known = &it->second.gauge->label_names();
  if (it->second.histogram) known = &it->second.histogram->label_names();
  if (known && *known != label_names) {
    throw std::invalid_argument(name + " is already registered with other label names");
  }
}

Family<Counter>& Registry::counter(const std::string& name, const std::string& help,
                                   std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  check_free(name, Type::kCounter, label_names);
  Entry& e = families_[name];
  e.type = Type::kCounter;
  if (!e.counter) {
    e.counter = std::make_unique<Family<Counter>>(name, help, std::move(label_names),
                                                  [] { return std::make_unique<Counter>(); });
  }
  return *e.counter;
}

Family<Gauge>& Registry::gauge(const std::string& name, const std::string& help,
                               std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  check_free(name, Type::kGauge, label_names);
  Entry& e = families_[name];
  e.type = Type::kGauge;
  if (!e.gauge) {
    e.gauge = std::make_unique<Family<Gauge>>(name, help, std::move(label_names),
                                              [] { return std::make_unique<Gauge>(); });
  }
  return *e.gauge;
}

Family<Histogram>& Registry::histogram(const std::string& name, const std::string& help,
                                       std::vector<double> upper_bounds,
                                       std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  check_free(name, Type::kHistogram, label_names);
  Entry& e = families_[name];
  e.type = Type::kHistogram;
  if (!e.histogram) {
    Histogram probe(upper_bounds);  // throws now for bad bounds, not at the first child
    e.histogram = std::make_unique<Family<Histogram>>(
        name, help, std::move(label_names),
        [bounds = std::move(upper_bounds)] { return std::make_unique<Histogram>(bounds); });
  }
  return *e.histogram;
}

CollectorHandle Registry::add_collector(Collector collect) {
  std::lock_guard lock(mu_);
  uint64_t id = next_collector_++;
  collectors_[id] = std::make_shared<Collector>(std::move(collect));
  return CollectorHandle(this, id);
}

void Registry::remove_collector(uint64_t id) {
  std::lock_guard lock(mu_);
  collectors_.erase(id);
}

namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

void append_header(const std::string& name, const std::string& help, Type type, std::string* out) {
  *out += "# HELP " + name + " ";
  append_escaped_help(help, out);
  *out += "\n# TYPE " + name + " " + type_name(type) + "\n";
}

// name{a="1",b="2"} — or the bare name without labels.
void append_series(const std::string& name, const Pairs& labels, std::string* out) {
  *out += name;
  if (labels.empty()) return;
  *out += '{';
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) *out += ',';
    *out += labels[i].first + "=\"";
    append_escaped_label_value(labels[i].second, out);
    *out += '"';
  }
  *out += '}';
}

Pairs zip(const std::vector<std::string>& names, const LabelValues& values) {
  Pairs out;
  for (size_t i = 0; i < names.size(); ++i) out.emplace_back(names[i], values[i]);
  return out;
}

template <class Value>
void append_sample(const std::string& name, const Pairs& labels, Value value, std::string* out) {
  append_series(name, labels, out);
  *out += ' ';
  append_number(value, out);
  *out += '\n';
}

void append_histogram(const std::string& name, Pairs labels, const Histogram& h, std::string* out) {
  Histogram::Snapshot s = h.snapshot();
  Pairs with_le = labels;
  with_le.emplace_back("le", "");
  for (size_t i = 0; i <= s.upper_bounds.size(); ++i) {
    with_le.back().second.clear();
    if (i < s.upper_bounds.size()) {
      append_number(s.upper_bounds[i], &with_le.back().second);
    } else {
      with_le.back().second = "+Inf";
    }
    append_sample(name + "_bucket", with_le, s.cumulative[i], out);
  }
  append_sample(name + "_sum", labels, s.sum, out);
  append_sample(name + "_count", labels, s.count, out);
}

}  // namespace

std::string Registry::render() const {
  // Each family's text by name, so that the output is sorted and a family reported by several
  // collectors appears once.
  std::map<std::string, std::string> text;
  std::vector<std::shared_ptr<Collector>> collectors;
  {
    std::lock_guard lock(mu_);
    for (const auto& family : families_) {
      // Named, not structured bindings: lambdas below capture them (clang 14 refuses those).
      const std::string& name = family.first;
      const Entry& e = family.second;
      std::string& out = text[name];
      if (e.counter) {
        append_header(name, e.counter->help(), Type::kCounter, &out);
        e.counter->for_each([&](const LabelValues& values, const Counter& c) {
          append_sample(name, zip(e.counter->label_names(), values), c.value(), &out);
        });
      } else if (e.gauge) {
        append_header(name, e.gauge->help(), Type::kGauge, &out);
        e.gauge->for_each([&](const LabelValues& values, const Gauge& g) {
          append_sample(name, zip(e.gauge->label_names(), values), g.value(), &out);
        });
      } else if (e.histogram) {
        append_header(name, e.histogram->help(), Type::kHistogram, &out);
        e.histogram->for_each([&](const LabelValues& values, const Histogram& h) {
          append_histogram(name, zip(e.histogram->label_names(), values), h, &out);
        });
      }
    }
    for (const auto& [id, c] : collectors_) collectors.push_back(c);
  }
  // Collectors run without the registry's lock: they take locks of their own (the job store's,
  // the node's view) and may be slow (reading /proc).
  std::vector<CollectedFamily> collected;
  for (const auto& c : collectors) (*c)(collected);
  for (const auto& f : collected) {
    if (!valid_metric_name(f.name) || f.type == Type::kHistogram) continue;
    auto [it, fresh] = text.try_emplace(f.name);
    if (fresh) append_header(f.name, f.help, f.type, &it->second);
    for (const auto& s : f.samples) append_sample(f.name, s.labels, s.value, &it->second);
  }
  std::string out;
  for (const auto& [name, t] : text) out += t;
  return out;
}

Registry& default_registry() {
  static Registry* registry = new Registry();  // never destroyed: threads may outlive main
  return *registry;
}

}  // namespace nomad::metrics
