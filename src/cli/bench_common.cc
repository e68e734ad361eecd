#include "cli/bench_common.h"

#include <cmath>

namespace nomad::cli::bench {

std::chrono::milliseconds retry_backoff(int retries) {
  return std::chrono::milliseconds(std::min(10 << std::min(retries, 5), 200));
}

int channels_per_address(int channels, int clients) {
  return channels > 0 ? channels : std::clamp(clients / 64, 1, 4);
}

const std::string& next_address(const std::vector<std::string>& addresses,
                                const std::string& address) {
  auto it = std::find(addresses.begin(), addresses.end(), address);
  size_t next = it == addresses.end() ? 0 : (it - addresses.begin() + 1) % addresses.size();
  return addresses[next];
}

double round_to(double value, int decimals) {
  double scale = std::pow(10.0, decimals);
  return std::round(value * scale) / scale;
}

double percentile_ms(const std::vector<uint32_t>& sorted_us, double p) {
  if (sorted_us.empty()) return 0.0;
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted_us.size())));
  return round_to(sorted_us[std::clamp<size_t>(rank, 1, sorted_us.size()) - 1] / 1000.0, 3);
}

}  // namespace nomad::cli::bench
