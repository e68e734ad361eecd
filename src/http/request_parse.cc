#include "http/request_parse.h"

#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "api/json.h"
#include "common/byte_size.h"
#include "common/duration.h"
#include "common/quote.h"

namespace nomad::http {
namespace {

using nlohmann::json;

template <class T>
api::Outcome<T> invalid(std::string message) {
  api::Outcome<T> out;
  out.error = {api::Code::kInvalidArgument, std::move(message), 0, {}};
  return out;
}

// The single value of parameter `name`, or nullptr; *twice is set when it is given twice
// (which one was meant is a guess).
const std::string* single(const QueryParams& params, const std::string& name, bool* twice) {
  auto [first, last] = params.equal_range(name);
  if (first == last) return nullptr;
  if (std::next(first) != last) *twice = true;
  return &first->second;
}

std::string type_name(const json& value) {
  if (value.is_string()) return "a string";
  if (value.is_boolean()) return "a boolean";
  if (value.is_number()) return "a number";
  if (value.is_array()) return "an array";
  if (value.is_object()) return "an object";
  return "null";
}

// A whole number that fits Int from a JSON value; an error message otherwise, which names
// `shown_max` (the largest value the service takes) as the top of the range.
template <class Int>
std::string json_int(const json& value, const char* field, Int* out,
                     Int shown_max = std::numeric_limits<Int>::max()) {
  constexpr auto lo = std::numeric_limits<Int>::min(), hi = std::numeric_limits<Int>::max();
  std::string expected = std::string("'") + field + "' must be a whole number from " +
                         std::to_string(lo) + " to " + std::to_string(shown_max);
  if (value.is_number_unsigned()) {
    auto v = value.get<uint64_t>();
    if (v > static_cast<uint64_t>(hi)) return expected;
    *out = static_cast<Int>(v);
    return {};
  }
  if (value.is_number_integer()) {
    auto v = value.get<int64_t>();
    if (v < static_cast<int64_t>(lo) || v > static_cast<int64_t>(hi)) return expected;
    *out = static_cast<Int>(v);
    return {};
  }
  return expected + ", not " + type_name(value);
}

// q(text): a short quote of what the client sent (common/quote.h).
std::string q(std::string_view text) { return common::quote_input(text); }

// Parses `body`, noting the first key that appears twice in one object: nlohmann::json keeps
// the last value silently, so the parser's callback watches every object's keys.
json parse_watching_keys(std::string_view body, std::string* duplicate) {
  std::vector<std::set<std::string>> open_objects;
  auto watch = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        open_objects.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case json::parse_event_t::key:
        if (!open_objects.empty() &&
            !open_objects.back().insert(parsed.get<std::string>()).second && duplicate->empty()) {
          *duplicate = parsed.get<std::string>();
        }
        break;
      default:
        break;
    }
    return true;
  };
  return json::parse(body, watch, /*allow_exceptions=*/false);
}

}  // namespace

json parse_json_strict(std::string_view body, std::string* duplicate_error) {
  std::string duplicate;
  json doc = parse_watching_keys(body, &duplicate);
  if (!duplicate.empty()) {
    *duplicate_error = "the key '" + q(duplicate) +
                       "' appears more than once in an object of the body; give each once";
  }
  return doc;
}

bool parse_unsigned(std::string_view text, uint64_t max, uint64_t* out) {
  if (text.empty() || text.size() > 20) return false;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (max - digit) / 10) return false;
    v = v * 10 + digit;
  }
  *out = v;
  return true;
}

api::Outcome<nomad_lite::SubmitJobRequest> parse_submit(std::string_view body) {
  using Out = nomad_lite::SubmitJobRequest;
  std::string duplicate_error;
  json doc = parse_json_strict(body, &duplicate_error);
  if (doc.is_discarded()) {
    return invalid<Out>(
        "the body is not valid JSON; send an object like "
        "{\"command\": \"echo hello\"}");
  }
  if (!duplicate_error.empty()) return invalid<Out>(std::move(duplicate_error));
  if (!doc.is_object()) {
    return invalid<Out>("the body must be a JSON object like {\"command\": \"echo hello\"}, not " +
                        type_name(doc));
  }
  api::Outcome<Out> out;
  Out& r = out.value;
  bool has_command = false;
  for (const auto& [key, value] : doc.items()) {
    if (value.is_null()) continue;  // null: not given
    std::string error;
    if (key == "command") {
      if (!value.is_string())
        return invalid<Out>("'command' must be a string, not " + type_name(value));
      r.set_command(value.get<std::string>());
      has_command = true;
    } else if (key == "timeout") {
      if (!value.is_string()) {
        return invalid<Out>("'timeout' must be a duration string such as \"30s\" or \"5m\", not " +
                            type_name(value));
      }
      std::string why;
      auto d = parse_duration(value.get<std::string>(), &why);
      if (!d) return invalid<Out>("'timeout': " + why);
      r.set_timeout_ms(static_cast<uint64_t>(d->count()));
    } else if (key == "wait") {
      // As gRPC's wait_ms: answer once the job is final, or when this much time has passed.
      if (!value.is_string()) {
        return invalid<Out>("'wait' must be a duration string such as \"10s\", not " +
                            type_name(value));
      }
      std::string why;
      auto d = parse_duration(value.get<std::string>(), &why);
      if (!d) return invalid<Out>("'wait': " + why);
      if (static_cast<uint64_t>(d->count()) > api::kMaxWaitMs) {
        return invalid<Out>("'wait' is " + value.get<std::string>() + "; the longest wait is " +
                            std::to_string(api::kMaxWaitMs / 1000) + "s");
      }
      r.set_wait_ms(static_cast<uint64_t>(d->count()));
    } else if (key == "retries") {
      uint32_t retries = 0;
      error = json_int(value, "retries", &retries, api::kMaxRetries);
      r.set_retries(retries);
    } else if (key == "lost_retries") {
      uint32_t lost_retries = 0;
      error = json_int(value, "lost_retries", &lost_retries, api::kMaxRetries);
      r.set_lost_retries(lost_retries);
    } else if (key == "on_disconnect") {
      auto parsed =
          value.is_string() ? api::parse_on_disconnect(value.get<std::string>()) : std::nullopt;
      if (!parsed) {
        return invalid<Out>(
            "'on_disconnect' must be \"stop\" or \"keep-running\", not " +
            (value.is_string() ? "\"" + q(value.get<std::string>()) + "\"" : type_name(value)));
      }
      r.set_on_disconnect(*parsed);
    } else if (key == "priority") {
      int32_t priority = 0;
      error = json_int(value, "priority", &priority);
      r.set_priority(priority);
    } else if (key == "env") {
      if (!value.is_object()) {
        return invalid<Out>("'env' must be an object of strings like {\"NAME\": \"value\"}, not " +
                            type_name(value));
      }
      for (const auto& [name, v] : value.items()) {
        if (!v.is_string()) {
          return invalid<Out>("'env' value of '" + q(name) + "' must be a string, not " +
                              type_name(v));
        }
        (*r.mutable_env())[name] = v.get<std::string>();
      }
    } else if (key == "idempotency_key") {
      if (!value.is_string()) {
        return invalid<Out>("'idempotency_key' must be a string, not " + type_name(value));
      }
      r.set_idempotency_key(value.get<std::string>());
    } else if (key == "cpu") {
      // Cores, as a number (0.5) or a numeric string ("0.5"); the service checks the range.
      double cores = 0;
      char* end = nullptr;
      std::string text = value.is_string() ? value.get<std::string>() : "";
      if (value.is_number()) {
        cores = value.get<double>();
      } else if (!text.empty()) {
        cores = std::strtod(text.c_str(), &end);
      }
      if ((!value.is_number() && (text.empty() || end != text.c_str() + text.size())) ||
          !(cores > 0) || cores > 1e9) {
        return invalid<Out>(
            "'cpu' must be the cores the job needs, a number above 0 such as 0.5, "
            "not " +
            (value.is_string() ? "\"" + q(text) + "\"" : value.dump()));
      }
      r.mutable_resources()->set_cpu(cores);
    } else if (key == "memory") {
      // Bytes (268435456) or a size string ("256MiB").
      if (value.is_number_unsigned()) {
        r.mutable_resources()->set_memory_bytes(value.get<uint64_t>());
      } else if (value.is_string()) {
        std::string why;
        auto bytes = parse_byte_size(value.get<std::string>(), &why);
        if (!bytes) return invalid<Out>("'memory': " + why);
        r.mutable_resources()->set_memory_bytes(*bytes);
      } else {
        return invalid<Out>(
            "'memory' must be bytes (268435456) or a size string (\"256MiB\"), "
            "not " +
            type_name(value));
      }
      if (r.resources().memory_bytes() == 0) {
        return invalid<Out>("'memory' must be more than 0, e.g. \"256MiB\"");
      }
    } else if (key == "constraints") {
      if (!value.is_array()) {
        return invalid<Out>(
            "'constraints' must be a list of strings like [\"gpu==true\", "
            "\"zone!=eu-1\"], not " +
            type_name(value));
      }
      for (const auto& c : value) {
        if (!c.is_string()) {
          return invalid<Out>("'constraints' holds " + type_name(c) +
                              "; each constraint is a string KEY==VALUE or KEY!=VALUE");
        }
        r.add_constraints(c.get<std::string>());
      }
    } else if (key == "after") {
      // The ids of jobs that must complete first (README "Jobs that wait for jobs").
      if (!value.is_array()) {
        return invalid<Out>("'after' must be an array of job ids, not " + type_name(value));
      }
      for (const auto& id : value) {
        if (!id.is_string()) {
          return invalid<Out>("'after' must hold job ids (strings), not " + type_name(id));
        }
        r.add_after(id.get<std::string>());
      }
    } else {
      return invalid<Out>("unknown field '" + q(key) +
                          "'; a job has command, timeout, retries, lost_retries, on_disconnect, "
                          "env, priority, idempotency_key, cpu, memory, constraints and after "
                          "(and a submission may ask to wait)");
    }
    if (!error.empty()) return invalid<Out>(error);
  }
  if (!has_command) return invalid<Out>("'command' is missing: give the shell command to run");
  return out;
}

api::Error parse_read_options(const QueryParams& params, uint64_t* min_index, bool* consistent) {
  auto bad = [](std::string message) -> api::Error {
    return {api::Code::kInvalidArgument, std::move(message), 0, {}};
  };
  bool twice = false;
  if (const std::string* m = single(params, "min_index", &twice)) {
    if (!parse_unsigned(*m, std::numeric_limits<uint64_t>::max(), min_index)) {
      return bad("min_index '" + q(*m) +
                 "' must be a log index: the \"index\" a write answered with (0, 1, ...)");
    }
  }
  if (const std::string* c = single(params, "consistent", &twice)) {
    if (*c == "1" || *c == "true") {
      *consistent = true;
    } else if (*c != "0" && *c != "false") {
      return bad("consistent '" + q(*c) + "' must be 1 or 0");
    }
  }
  if (twice) return bad("a query parameter is given more than once; give each once");
  return {};
}

api::Outcome<nomad_lite::ListJobsRequest> parse_list_query(const QueryParams& params) {
  using Out = nomad_lite::ListJobsRequest;
  api::Outcome<Out> out;
  bool twice = false;
  if (const std::string* s = single(params, "status", &twice); s && !s->empty()) {
    auto status = api::parse_job_status(*s);
    if (!status) {
      return invalid<Out>("status '" + q(*s) +
                          "' is not one of pending, running, completed, failed, cancelled");
    }
    out.value.set_status(*status);
  }
  if (const std::string* q = single(params, "q", &twice)) out.value.set_query(*q);
  if (const std::string* l = single(params, "limit", &twice)) {
    uint64_t limit = 0;
    if (!parse_unsigned(*l, api::kMaxListLimit, &limit) || limit == 0) {
      return invalid<Out>("limit '" + q(*l) + "' must be a whole number from 1 to " +
                          std::to_string(api::kMaxListLimit));
    }
    out.value.set_limit(static_cast<uint32_t>(limit));
  }
  if (const std::string* t = single(params, "page_token", &twice)) out.value.set_page_token(*t);
  if (twice) return invalid<Out>("a query parameter is given more than once; give each once");
  out.error = parse_read_options(params, &out.value);
  return out;
}

api::Outcome<nomad_lite::JobLogsRequest> parse_logs_query(const std::string& job_id,
                                                          const QueryParams& params) {
  using Out = nomad_lite::JobLogsRequest;
  api::Outcome<Out> out;
  out.value.set_job_id(job_id);
  bool twice = false;
  if (const std::string* s = single(params, "stream", &twice)) {
    if (*s == "stderr") {
      out.value.set_stderr(true);
    } else if (*s != "stdout") {
      return invalid<Out>("stream '" + q(*s) + "' must be stdout or stderr");
    }
  }
  if (const std::string* f = single(params, "follow", &twice)) {
    if (*f == "1" || *f == "true") {
      out.value.set_follow(true);
    } else if (*f != "0" && *f != "false") {
      return invalid<Out>("follow '" + q(*f) + "' must be 1 or 0");
    }
  }
  if (const std::string* a = single(params, "attempt", &twice)) {
    uint64_t attempt = 0;
    if (!parse_unsigned(*a, std::numeric_limits<uint32_t>::max(), &attempt) || attempt == 0) {
      return invalid<Out>("attempt '" + q(*a) + "' must be an attempt number: 1, 2, ...");
    }
    out.value.set_attempt(static_cast<uint32_t>(attempt));
  }
  if (const std::string* o = single(params, "offset", &twice)) {
    uint64_t offset = 0;
    if (!parse_unsigned(*o, std::numeric_limits<uint64_t>::max(), &offset)) {
      return invalid<Out>("offset '" + q(*o) + "' must be a byte count: 0, 1, ...");
    }
    out.value.set_offset(offset);
  }
  if (twice) return invalid<Out>("a query parameter is given more than once; give each once");
  out.error = parse_read_options(params, &out.value);
  return out;
}

}  // namespace nomad::http
