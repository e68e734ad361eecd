// libFuzzer target: arbitrary bytes as the body of POST /api/jobs. parse_submit must give a
// request or a clear error, never a crash; a request it accepts, written back as JSON, must
// parse to the same request (nothing lost or changed on the way).

#include <google/protobuf/util/message_differencer.h>

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "common/duration.h"
#include "fuzz_check.h"
#include "http/request_parse.h"

namespace {

// The request as a client would send it, every field given. The JSON parser only lets valid
// UTF-8 into strings, so dump() (which throws on anything else) can write them all back.
std::string to_body(const nomad_lite::SubmitJobRequest& r) {
  nlohmann::json body = {{"command", r.command()},
                         {"retries", r.retries()},
                         {"priority", r.priority()},
                         {"idempotency_key", r.idempotency_key()},
                         {"env", nlohmann::json::object()}};
  if (r.timeout_ms() != 0) {
    body["timeout"] = nomad::format_duration(nomad::Millis(static_cast<int64_t>(r.timeout_ms())));
  }
  if (r.wait_ms() != 0) {
    body["wait"] = nomad::format_duration(nomad::Millis(static_cast<int64_t>(r.wait_ms())));
  }
  for (const auto& [name, value] : r.env()) body["env"][name] = value;
  if (r.resources().cpu() > 0) body["cpu"] = r.resources().cpu();
  if (r.resources().memory_bytes() > 0) body["memory"] = r.resources().memory_bytes();
  if (r.constraints_size() > 0) {
    body["constraints"] = std::vector<std::string>(r.constraints().begin(), r.constraints().end());
  }
  return body.dump();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto first = nomad::http::parse_submit(body);
  if (!first.ok()) {
    FUZZ_CHECK(!first.error.message.empty(), "a refused body gets a message");
    return 0;
  }
  auto second = nomad::http::parse_submit(to_body(first.value));
  FUZZ_CHECK(second.ok(), "a request written back as JSON parses again");
  FUZZ_CHECK(google::protobuf::util::MessageDifferencer::Equals(first.value, second.value),
             "a request written back as JSON parses to the same request");
  return 0;
}
