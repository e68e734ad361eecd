#include "common/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <mutex>

namespace nomad::common {
namespace {

thread_local const LogFields* current_fields = nullptr;

bool is_reserved(std::string_view key) {
  return key == "time" || key == "level" || key == "node" || key == "msg";
}

// The length of the valid UTF-8 sequence at the start of `s`, or 0 (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF).
size_t utf8_sequence(std::string_view s) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char b0 = byte(0);
  size_t n = 0;
  uint32_t min = 0, cp = 0;
  if (b0 < 0x80) return 1;
  if ((b0 & 0xE0) == 0xC0) {
    n = 2, min = 0x80, cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 3, min = 0x800, cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 4, min = 0x10000, cp = b0 & 0x07;
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  for (size_t i = 1; i < n; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

void append_json_number(std::string& out, const LogField& f) {
  switch (f.kind()) {
    case LogField::Kind::kSigned:
      out += std::to_string(f.signed_value());
      break;
    case LogField::Kind::kUnsigned:
      out += std::to_string(f.unsigned_value());
      break;
    case LogField::Kind::kBool:
      out += f.unsigned_value() ? "true" : "false";
      break;
    case LogField::Kind::kText:
      append_json_string(out, f.text());
      break;
  }
}

void append_to(spdlog::memory_buf_t& dest, const std::string& s) {
  dest.append(s.data(), s.data() + s.size());
}

// Text mode: the fields after the message, " key=value" each (the %* flag of the pattern).
class TextFieldsFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    if (!current_fields) return;
    std::string out;
    for (const LogField& f : *current_fields) {
      out += ' ';
      out += f.key();
      out += '=';
      if (f.kind() == LogField::Kind::kText) {
        append_text_value(out, f.text());
      } else {
        append_json_number(out, f);
      }
    }
    append_to(dest, out);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<TextFieldsFlag>();
  }
};

class JsonFormatter final : public spdlog::formatter {
 public:
  explicit JsonFormatter(uint64_t node_id) : node_id_(node_id) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string out;
    out.reserve(128 + msg.payload.size());
    out += "{\"time\":\"";
    append_time(out, msg.time);
    out += "\",\"level\":\"";
    const auto level = spdlog::level::to_string_view(msg.level);
    out.append(level.data(), level.size());
    out += "\",\"node\":";
    out += std::to_string(node_id_);
    out += ",\"msg\":";
    append_json_string(out, std::string_view(msg.payload.data(), msg.payload.size()));
    if (current_fields) {
      for (const LogField& f : *current_fields) {
        out += ',';
        std::string key(f.key());
        if (is_reserved(key)) key += '_';
        append_json_string(out, key);
        out += ':';
        append_json_number(out, f);
      }
    }
    out += "}\n";
    append_to(dest, out);
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>(node_id_);
  }

 private:
  // RFC 3339, UTC, milliseconds: 2026-12-07T03:01:52.123Z. The part up to the seconds is
  // made once per second.
  void append_time(std::string& out, spdlog::log_clock::time_point when) {
    using namespace std::chrono;
    const auto ms = duration_cast<milliseconds>(when.time_since_epoch()).count();
    const time_t seconds = static_cast<time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    const int millis = static_cast<int>(ms - static_cast<int64_t>(seconds) * 1000);
    if (seconds != cached_second_ || cached_prefix_.empty()) {
      std::tm tm{};
      gmtime_r(&seconds, &tm);
      std::array<char, 32> buf{};
      size_t n = strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%S", &tm);
      cached_prefix_.assign(buf.data(), n);
      cached_second_ = seconds;
    }
    out += cached_prefix_;
    std::array<char, 8> frac{};
    snprintf(frac.data(), frac.size(), ".%03dZ", millis);
    out += frac.data();
  }

  uint64_t node_id_;
  time_t cached_second_ = 0;
  std::string cached_prefix_;
};

}  // namespace

void log_with(spdlog::level::level_enum level, std::string_view msg, LogFields fields) {
  spdlog::logger* logger = spdlog::default_logger_raw();
  if (!logger->should_log(level)) return;
  const LogFields* outer = current_fields;
  current_fields = &fields;
  logger->log(level, spdlog::string_view_t(msg.data(), msg.size()));
  current_fields = outer;
}

std::optional<LogFormat> parse_log_format(std::string_view name) {
  if (name == "text") return LogFormat::kText;
  if (name == "json") return LogFormat::kJson;
  return std::nullopt;
}

std::unique_ptr<spdlog::formatter> make_log_formatter(LogFormat format, uint64_t node_id) {
  if (format == LogFormat::kJson) return std::make_unique<JsonFormatter>(node_id);
  auto text = std::make_unique<spdlog::pattern_formatter>();
  text->add_flag<TextFieldsFlag>('*').set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [node " +
                                                  std::to_string(node_id) + "] %v%*");
  return text;
}

namespace {

// What set_log_format configured, for InfoLineBatch to format its lines the same way.
struct ConfiguredLog {
  std::mutex mu;
  std::optional<LogFormat> format;
  uint64_t node_id = 0;
  const spdlog::logger* logger = nullptr;  // the default logger then
};

ConfiguredLog& configured_log() {
  static ConfiguredLog* log = new ConfiguredLog();  // never destroyed: threads may outlive main
  return *log;
}

constexpr size_t kMaxBatchBytes = 64 << 10;

}  // namespace

void set_log_format(LogFormat format, uint64_t node_id) {
  spdlog::set_formatter(make_log_formatter(format, node_id));
  ConfiguredLog& c = configured_log();
  std::lock_guard lock(c.mu);
  c.format = format;
  c.node_id = node_id;
  c.logger = spdlog::default_logger_raw();
}

InfoLineBatch::InfoLineBatch() {
  const spdlog::logger* logger = spdlog::default_logger_raw();
  const auto& sinks = logger->sinks();
  ConfiguredLog& c = configured_log();
  std::lock_guard lock(c.mu);
  if (c.format && c.logger == logger && sinks.size() == 1 &&
      dynamic_cast<spdlog::sinks::stdout_color_sink_mt*>(sinks.front().get()) != nullptr &&
      !isatty(STDOUT_FILENO)) {
    formatter_ = make_log_formatter(*c.format, c.node_id);
  }
}

InfoLineBatch::~InfoLineBatch() { write_out(); }

void InfoLineBatch::add(std::string_view msg, LogFields fields) {
  if (!formatter_) {
    log_with(spdlog::level::info, msg, fields);
    return;
  }
  spdlog::logger* logger = spdlog::default_logger_raw();
  if (!logger->should_log(spdlog::level::info)) return;
  const LogFields* outer = current_fields;
  current_fields = &fields;
  spdlog::details::log_msg line(spdlog::source_loc{}, logger->name(), spdlog::level::info,
                                spdlog::string_view_t(msg.data(), msg.size()));
  formatter_->format(line, lines_);
  current_fields = outer;
  if (lines_.size() >= kMaxBatchBytes) write_out();
}

void InfoLineBatch::write_out() {
  if (lines_.size() == 0) return;
  // Whole lines in one call: stdio's lock keeps other threads' lines out of the middle.
  fwrite(lines_.data(), 1, lines_.size(), stdout);
  fflush(stdout);
  lines_.clear();
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t n = utf8_sequence(s.substr(i));
      if (n == 0) {
        out += "\\ufffd";  // not UTF-8: one replacement character per byte
        ++i;
      } else {
        out.append(s.data() + i, n);
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
}

void append_text_value(std::string& out, std::string_view s) {
  bool plain = !s.empty();
  for (char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7f || c == '"' || c == '\\' || c == '=') {
      plain = false;
      break;
    }
  }
  if (plain) {
    out += s;
    return;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    } else {
      out += ch;
    }
  }
  out += '"';
}

}  // namespace nomad::common
