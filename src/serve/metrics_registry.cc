#include "serve/metrics_registry.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "lrem/error.h"

namespace lrem {

namespace {

// The shortest decimal that reads back as the same double ("0.005", not "0.0050000000000000001").
std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

// The format escapes backslash and newline in help texts, and double quotes too in label values.
std::string escaped(const std::string& s, bool quotes) {
  std::string out;
  for (char c : s) {
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '\\' || (quotes && c == '"')) out += '\\';
    out += c;
  }
  return out;
}

// name="value",name="value" (no braces, so a histogram can append le).
std::string label_text(const MetricsRegistry::Labels& labels) {
  std::string out;
  for (const auto& [name, value] : labels) {
    if (!out.empty()) out += ',';
    out += name + "=\"" + escaped(value, true) + '"';
  }
  return out;
}

std::string braced(const std::string& labels) { return labels.empty() ? "" : "{" + labels + "}"; }

}  // namespace

MetricsRegistry::Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0);
}

void MetricsRegistry::Histogram::observe(double value) {
  size_t bucket = 0;
  while (bucket < bounds_.size() && value > bounds_[bucket]) ++bucket;
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  double sum = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(sum, sum + value, std::memory_order_relaxed)) {
  }
}

MetricsRegistry::Series& MetricsRegistry::series(const std::string& name, const std::string& help, Type type,
                                                 const Labels& labels) {
  // Called with mu_ held.
  auto [family, created] = families_.try_emplace(name, Family{type, help, {}});
  if (!created && family->second.type != type)
    throw InvalidArgument("metric " + name + " is already registered with another type");
  return family->second.series[label_text(labels)];
}

MetricsRegistry::Counter& MetricsRegistry::counter(const std::string& name, const std::string& help,
                                                   const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Series& s = series(name, help, Type::Counter, labels);
  if (!s.counter && !s.read) s.counter = std::make_unique<Counter>();
  if (!s.counter) throw InvalidArgument("metric " + name + " is read from a function; it cannot be counted");
  return *s.counter;
}

MetricsRegistry::Gauge& MetricsRegistry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Series& s = series(name, help, Type::Gauge, labels);
  if (!s.gauge && !s.read) s.gauge = std::make_unique<Gauge>();
  if (!s.gauge) throw InvalidArgument("metric " + name + " is read from a function; it cannot be set");
  return *s.gauge;
}

MetricsRegistry::Histogram& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                                       const std::vector<double>& bounds, const Labels& labels) {
  if (bounds.empty()) throw InvalidArgument("histogram " + name + " needs at least one bucket bound");
  for (size_t i = 1; i < bounds.size(); ++i)
    if (!(bounds[i - 1] < bounds[i])) throw InvalidArgument("histogram " + name + ": bucket bounds must ascend");
  std::lock_guard<std::mutex> lock(mu_);
  Series& s = series(name, help, Type::Histogram, labels);
  if (!s.histogram) s.histogram = std::make_unique<Histogram>(bounds);
  return *s.histogram;
}

void MetricsRegistry::counter_from(const std::string& name, const std::string& help, const Labels& labels,
                                   std::function<double()> read) {
  read_from(name, help, Type::Counter, labels, std::move(read));
}

void MetricsRegistry::gauge_from(const std::string& name, const std::string& help, const Labels& labels,
                                 std::function<double()> read) {
  read_from(name, help, Type::Gauge, labels, std::move(read));
}

void MetricsRegistry::read_from(const std::string& name, const std::string& help, Type type, const Labels& labels,
                                std::function<double()> read) {
  std::lock_guard<std::mutex> lock(mu_);
  Series& s = series(name, help, type, labels);
  if (s.counter || s.gauge) throw InvalidArgument("metric " + name + " is already recorded directly");
  s.read = std::move(read);
}

std::string MetricsRegistry::render() const {
  static const char* const kTypeNames[] = {"counter", "gauge", "histogram"};
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& [name, family] : families_) {
    out += "# HELP " + name + " " + escaped(family.help, false) + "\n";
    out += "# TYPE " + name + " " + kTypeNames[static_cast<int>(family.type)] + "\n";
    for (const auto& [labels, s] : family.series) {
      if (s.histogram) {
        const Histogram& h = *s.histogram;
        const std::string sep = labels.empty() ? "" : ",";
        uint64_t cumulative = 0;
        for (size_t i = 0; i <= h.bounds_.size(); ++i) {
          cumulative += h.counts_[i].load(std::memory_order_relaxed);
          const std::string le = i < h.bounds_.size() ? number(h.bounds_[i]) : "+Inf";
          out += name + "_bucket{" + labels + sep + "le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
        }
        out += name + "_sum" + braced(labels) + " " + number(h.sum_.load(std::memory_order_relaxed)) + "\n";
        out += name + "_count" + braced(labels) + " " + std::to_string(cumulative) + "\n";
        continue;
      }
      const std::string value = s.read      ? number(s.read())
                                : s.counter ? std::to_string(s.counter->value())
                                            : std::to_string(s.gauge->value());
      out += name + braced(labels) + " " + value + "\n";
    }
  }
  return out;
}

}  // namespace lrem
