#include "jobs/cron.h"

#include <date/tz.h>

#include <cctype>
#include <charconv>
#include <exception>
#include <vector>

#include "common/quote.h"

namespace nomad::jobs {
namespace {

using namespace std::chrono;

struct FieldSpec {
  const char* name;
  int min;
  int max;                   // the highest value accepted (7 for day-of-week)
  const char* const* names;  // names for min, min+1, ... (nullptr: numbers only)
  int names_from;            // the value of names[0]
  int name_count;
};

constexpr const char* kMonthNames[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                       "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr const char* kDayNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

constexpr FieldSpec kSecond{"second", 0, 59, nullptr, 0, 0};
constexpr FieldSpec kMinute{"minute", 0, 59, nullptr, 0, 0};
constexpr FieldSpec kHour{"hour", 0, 23, nullptr, 0, 0};
constexpr FieldSpec kDay{"day-of-month", 1, 31, nullptr, 0, 0};
constexpr FieldSpec kMonth{"month", 1, 12, kMonthNames, 1, 12};
constexpr FieldSpec kWeekday{"day-of-week", 0, 7, kDayNames, 0, 7};

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t at = text.find(separator, start);
    parts.push_back(text.substr(start, at == std::string_view::npos ? at : at - start));
    if (at == std::string_view::npos) return parts;
    start = at + 1;
  }
}

std::vector<std::string_view> words(std::string_view text) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    size_t start = i;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i > start) out.push_back(text.substr(start, i - start));
  }
  return out;
}

bool fail(std::string* error, std::string message) {
  if (error) *error = std::move(message);
  return false;
}

// One value of a field: a number or (for months and days) a name.
bool parse_value(std::string_view text, const FieldSpec& spec, int* value, std::string* error) {
  if (spec.names && !text.empty() && std::isalpha(static_cast<unsigned char>(text[0]))) {
    for (int i = 0; i < spec.name_count; ++i) {
      std::string_view name = spec.names[i];
      bool same = name.size() == text.size();
      for (size_t k = 0; same && k < name.size(); ++k) {
        same = std::toupper(static_cast<unsigned char>(text[k])) == name[k];
      }
      if (same) {
        *value = spec.names_from + i;
        return true;
      }
    }
    return fail(error, std::string(spec.name) + ": \"" + common::quote_input(text) +
                           "\" is not a name here (" + spec.names[0] + ", " + spec.names[1] +
                           ", ...)");
  }
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return fail(error, std::string(spec.name) + ": \"" + common::quote_input(text) +
                           "\" is not a number" +
                           (text.find_first_of("LW#?") != std::string_view::npos
                                ? " (L, W, # and ? are not supported)"
                                : ""));
  }
  if (*value < spec.min || *value > spec.max) {
    return fail(error, std::string(spec.name) + ": " + std::to_string(*value) + " is outside " +
                           std::to_string(spec.min) + "-" + std::to_string(spec.max));
  }
  return true;
}

// A whole field: a comma-separated list of `*`, `a`, `a-b`, each optionally `/step`.
bool parse_field(std::string_view text, const FieldSpec& spec, uint64_t* bits, std::string* error) {
  *bits = 0;
  for (std::string_view item : split(text, ',')) {
    auto slash = split(item, '/');
    if (slash.size() > 2) {
      return fail(error, std::string(spec.name) + ": \"" + common::quote_input(item) +
                             "\" has more than one '/'");
    }
    int step = 1;
    if (slash.size() == 2) {
      auto [end, ec] = std::from_chars(slash[1].data(), slash[1].data() + slash[1].size(), step);
      if (slash[1].empty() || ec != std::errc() || end != slash[1].data() + slash[1].size() ||
          step < 1 || step > spec.max) {
        return fail(error, std::string(spec.name) + ": the step in \"" + common::quote_input(item) +
                               "\" must be a number from 1 to " + std::to_string(spec.max));
      }
    }
    std::string_view base = slash[0];
    int low = spec.min, high = spec.max;
    if (base == "*") {
      if (&spec == &kWeekday) high = 6;  // 7 is Sunday again
    } else {
      auto dash = split(base, '-');
      if (dash.size() > 2) {
        return fail(error, std::string(spec.name) + ": \"" + common::quote_input(base) +
                               "\" is not a range (write a-b)");
      }
      if (!parse_value(dash[0], spec, &low, error)) return false;
      if (dash.size() == 2) {
        if (!parse_value(dash[1], spec, &high, error)) return false;
        if (high < low) {
          return fail(error, std::string(spec.name) + ": the range \"" + common::quote_input(base) +
                                 "\" goes backwards");
        }
      } else if (slash.size() == 1) {
        high = low;
      }
    }
    for (int v = low; v <= high; v += step) *bits |= uint64_t{1} << v;
  }
  return true;
}

template <size_t N>
std::bitset<N> to_bits(uint64_t mask) {
  return std::bitset<N>(mask & ((N >= 64) ? ~uint64_t{0} : ((uint64_t{1} << N) - 1)));
}

std::string_view shortcut(std::string_view name) {
  static constexpr std::pair<std::string_view, std::string_view> kShortcuts[] = {
      {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
      {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
      {"@hourly", "0 * * * *"},
  };
  for (const auto& [n, expansion] : kShortcuts) {
    if (n == name) return expansion;
  }
  return {};
}

}  // namespace

struct CronSchedule::Civil {
  int year;
  unsigned month, day, hour, minute, second;

  static Civil from(date::local_seconds t) {
    auto day_point = date::floor<date::days>(t);
    date::year_month_day ymd{day_point};
    date::hh_mm_ss<seconds> time{t - day_point};
    return {int(ymd.year()),
            unsigned(ymd.month()),
            unsigned(ymd.day()),
            unsigned(time.hours().count()),
            unsigned(time.minutes().count()),
            unsigned(time.seconds().count())};
  }
  date::local_seconds local() const {
    return date::local_days{date::year{year} / date::month{month} / date::day{day}} + hours{hour} +
           minutes{minute} + seconds{second};
  }
  void next_month() {
    day = 1, hour = minute = second = 0;
    if (++month > 12) month = 1, ++year;
  }
  void next_day() {
    hour = minute = second = 0;
    unsigned last = unsigned((date::year{year} / date::month{month} / date::last).day());
    if (++day > last) next_month();
  }
  void next_hour() {
    minute = second = 0;
    if (++hour > 23) next_day();
  }
  void next_minute() {
    second = 0;
    if (++minute > 59) next_hour();
  }
  void next_second() {
    if (++second > 59) next_minute();
  }
};

std::optional<CronSchedule> CronSchedule::parse(std::string_view expression, std::string* error) {
  auto fields = words(expression);
  if (!fields.empty() && fields[0].starts_with('@')) {
    std::string_view expansion = fields.size() == 1 ? shortcut(fields[0]) : std::string_view();
    if (expansion.empty()) {
      fail(error, "\"" + common::quote_input(expression) +
                      "\" is not a shortcut: use @yearly, @monthly, @weekly, @daily or @hourly "
                      "(for intervals, --every)");
      return std::nullopt;
    }
    return parse(expansion, error);
  }
  if (fields.size() != 5 && fields.size() != 6) {
    fail(error,
         "a cron expression has 5 fields (minute hour day-of-month month day-of-week), "
         "or 6 with seconds first; \"" +
             common::quote_input(expression) + "\" has " + std::to_string(fields.size()));
    return std::nullopt;
  }
  CronSchedule schedule;
  schedule.has_seconds_ = fields.size() == 6;
  size_t at = 0;
  uint64_t bits = 0;
  if (schedule.has_seconds_) {
    if (!parse_field(fields[at++], kSecond, &bits, error)) return std::nullopt;
    schedule.seconds_ = to_bits<60>(bits);
  } else {
    schedule.seconds_.set(0);
  }
  if (!parse_field(fields[at++], kMinute, &bits, error)) return std::nullopt;
  schedule.minutes_ = to_bits<60>(bits);
  if (!parse_field(fields[at++], kHour, &bits, error)) return std::nullopt;
  schedule.hours_ = to_bits<24>(bits);
  schedule.days_star_ = fields[at].starts_with('*');
  if (!parse_field(fields[at++], kDay, &bits, error)) return std::nullopt;
  schedule.days_ = to_bits<32>(bits);
  if (!parse_field(fields[at++], kMonth, &bits, error)) return std::nullopt;
  schedule.months_ = to_bits<13>(bits);
  schedule.weekdays_star_ = fields[at].starts_with('*');
  if (!parse_field(fields[at++], kWeekday, &bits, error)) return std::nullopt;
  if (bits & (uint64_t{1} << 7)) bits |= 1;  // 7 is Sunday
  schedule.weekdays_ = to_bits<7>(bits);

  // 28 years hold every weekday/leap-day combination: a schedule silent that long never runs.
  if (!schedule.next_after(date::sys_days{date::year{2000} / 1 / 1}, nullptr)) {
    fail(error, "\"" + common::quote_input(expression) +
                    "\" never matches a real date (is the day past the month's end?)");
    return std::nullopt;
  }
  return schedule;
}

bool CronSchedule::day_matches(int year, unsigned month, unsigned day) const {
  date::year_month_day ymd{date::year{year}, date::month{month}, date::day{day}};
  if (!ymd.ok()) return false;
  unsigned weekday = date::weekday{date::local_days{ymd}}.c_encoding();
  if (days_star_ || weekdays_star_) return days_[day] && weekdays_[weekday];
  return days_[day] || weekdays_[weekday];
}

std::optional<CronSchedule::Civil> CronSchedule::next_local(Civil c) const {
  const int give_up = c.year + 28;
  while (c.year <= give_up) {
    if (!months_[c.month]) {
      c.next_month();
    } else if (!day_matches(c.year, c.month, c.day)) {
      c.next_day();
    } else if (!hours_[c.hour]) {
      c.next_hour();
    } else if (!minutes_[c.minute]) {
      c.next_minute();
    } else if (!seconds_[c.second]) {
      c.next_second();
    } else {
      return c;
    }
  }
  return std::nullopt;
}

std::optional<sys_seconds> CronSchedule::next_after(sys_seconds after,
                                                    const date::time_zone* zone) const {
  date::local_seconds local =
      zone ? zone->to_local(after) : date::local_seconds{after.time_since_epoch()};
  Civil from = Civil::from(local + seconds{1});
  // Each turn moves on by at least a second; the bound covers a repeated hour of a
  // every-second schedule (3,600 times that are not after `after`) many times over.
  for (int turn = 0; turn < 100000; ++turn) {
    auto found = next_local(from);
    if (!found) return std::nullopt;
    date::local_seconds candidate = found->local();
    sys_seconds due{candidate.time_since_epoch()};
    if (zone) {
      date::local_info info = zone->get_info(candidate);
      if (info.result == date::local_info::nonexistent) {
        due = info.first.end;  // skipped by the clocks: due when they jump
      } else {
        due = sys_seconds{candidate.time_since_epoch()} - info.first.offset;  // the earliest
      }
    }
    if (due > after) return due;
    from = Civil::from(candidate + seconds{1});
  }
  return std::nullopt;
}

bool find_time_zone(std::string_view name, const date::time_zone** zone, std::string* error) {
  *zone = nullptr;
  if (name.empty() || name == "UTC") return true;
  try {
    *zone = date::locate_zone(name);
    return true;
  } catch (const std::exception&) {
    // Quoted short and with control bytes escaped: the name comes from a client.
    return fail(error, "--tz \"" + common::quote_input(name) +
                           "\" is not a time zone known here: write an IANA name such as "
                           "Europe/Berlin or America/New_York (see /usr/share/zoneinfo)");
  }
}

}  // namespace nomad::jobs
