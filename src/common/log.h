#pragma once

// The node's log lines, as text or JSON (--log-format), with structured fields.
//
// log_info("job placed", {{"job_id", id}, {"attempt", 2}, {"worker", 3}}) writes
//   text: 2026-12-07T03:01:52.123 info [node 1] job placed job_id=abc attempt=2 worker=3
//   json: {"time":"2026-12-07T03:01:52.123Z","level":"info","node":1,"msg":"job placed",
//          "job_id":"abc","attempt":2,"worker":3}
// Plain spdlog calls (spdlog::info("...")) go through the same formatter, without fields.
// JSON lines are one object per line: control characters, quotes and backslashes are escaped
// and bytes that are not UTF-8 become U+FFFD, so job output or commands cannot break a line.
// A field named like a member every line has (time, level, node, msg) is written with a
// trailing underscore ("node_").
//
// The fields reach the formatter through a thread-local pointer set for the duration of the
// call: loggers here are synchronous, so formatting happens on the calling thread.

#include <spdlog/spdlog.h>

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace nomad::common {

class LogField {
 public:
  enum class Kind { kText, kSigned, kUnsigned, kBool };

  LogField(std::string_view key, std::string_view value)
      : key_(key), kind_(Kind::kText), text_(value) {}
  LogField(std::string_view key, const std::string& value)
      : LogField(key, std::string_view(value)) {}
  LogField(std::string_view key, const char* value) : LogField(key, std::string_view(value)) {}
  LogField(std::string_view key, bool value) : key_(key), kind_(Kind::kBool), unsigned_(value) {}
  template <std::signed_integral T>
  LogField(std::string_view key, T value) : key_(key), kind_(Kind::kSigned), signed_(value) {}
  template <std::unsigned_integral T>
  LogField(std::string_view key, T value) : key_(key), kind_(Kind::kUnsigned), unsigned_(value) {}

  std::string_view key() const { return key_; }
  Kind kind() const { return kind_; }
  std::string_view text() const { return text_; }
  int64_t signed_value() const { return signed_; }
  uint64_t unsigned_value() const { return unsigned_; }

 private:
  std::string_view key_;
  Kind kind_;
  std::string_view text_;
  int64_t signed_ = 0;
  uint64_t unsigned_ = 0;
};

using LogFields = std::initializer_list<LogField>;

// Logs `msg` with `fields` on the default logger, if `level` is enabled.
void log_with(spdlog::level::level_enum level, std::string_view msg, LogFields fields);
inline void log_debug(std::string_view msg, LogFields fields) {
  log_with(spdlog::level::debug, msg, fields);
}
inline void log_info(std::string_view msg, LogFields fields) {
  log_with(spdlog::level::info, msg, fields);
}
inline void log_warn(std::string_view msg, LogFields fields) {
  log_with(spdlog::level::warn, msg, fields);
}
inline void log_error(std::string_view msg, LogFields fields) {
  log_with(spdlog::level::err, msg, fields);
}
inline void log_critical(std::string_view msg, LogFields fields) {
  log_with(spdlog::level::critical, msg, fields);
}

enum class LogFormat { kText, kJson };

// "text" or "json"; nullopt for anything else.
std::optional<LogFormat> parse_log_format(std::string_view name);

// The formatter of each format, for `node_id`'s lines.
std::unique_ptr<spdlog::formatter> make_log_formatter(LogFormat format, uint64_t node_id);
// Installs it on every logger (spdlog::set_formatter).
void set_log_format(LogFormat format, uint64_t node_id);

// Info lines that one thread logs in a burst (the job event log), formatted as every other
// line and written to standard output together: one write for the batch rather than a write
// and a flush per line. Where the default logger is not the standard output logger that
// set_log_format configured (a test's capture), or standard output is a terminal (the level's
// colour), each line goes through the default logger as log_info would send it.
class InfoLineBatch {
 public:
  InfoLineBatch();
  ~InfoLineBatch();  // writes the lines added
  InfoLineBatch(const InfoLineBatch&) = delete;
  InfoLineBatch& operator=(const InfoLineBatch&) = delete;

  void add(std::string_view msg, LogFields fields);

 private:
  void write_out();

  std::unique_ptr<spdlog::formatter> formatter_;  // null: line by line
  spdlog::memory_buf_t lines_;
};

// Appends `s` as a JSON string, quotes included.
void append_json_string(std::string& out, std::string_view s);
// Appends `s` as a text-mode field value: as it is when it has no space, quote, backslash,
// '=' or control character, else quoted with those escaped.
void append_text_value(std::string& out, std::string_view s);

}  // namespace nomad::common
