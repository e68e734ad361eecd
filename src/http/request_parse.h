#pragma once

// REST requests as the client API's messages: the body of POST /api/jobs and the query
// parameters of the job list and of job output. Only the shape is checked here (types, field
// names, durations); what the values may be is api::Service's to decide, as for gRPC.
// Errors are kInvalidArgument with a message that names the field.

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "api/service.h"
#include "proto/nomad_lite.pb.h"

namespace nomad::http {

using QueryParams = std::multimap<std::string, std::string>;  // as httplib::Params

// {"command": "...", "timeout"?: "30s", "retries"?: N, "lost_retries"?: N,
//  "on_disconnect"?: "stop"|"keep-running", "env"?: {"K": "V"}, "priority"?: N,
//  "idempotency_key"?: "...", "cpu"?: 0.5, "memory"?: "256MiB" or bytes,
//  "constraints"?: ["gpu==true", "zone!=eu-1"]}; null stands for an absent field; unknown fields
//  are refused
// (a misspelt option would otherwise be silently ignored).
api::Outcome<nomad_lite::SubmitJobRequest> parse_submit(std::string_view body);

// `body` parsed as JSON (is_discarded() when it is not JSON). A key that appears twice in one
// object (nlohmann::json would keep the last value silently) sets *duplicate_error to a message
// naming it: every JSON body the REST API takes is refused with it.
nlohmann::json parse_json_strict(std::string_view body, std::string* duplicate_error);

// status=S (empty: any), q=TEXT, limit=N (1..1000), page_token=T. Other parameters are ignored.
api::Outcome<nomad_lite::ListJobsRequest> parse_list_query(const QueryParams& params);

// stream=stdout|stderr, follow=1|0|true|false, attempt=N (from 1), offset=BYTES.
api::Outcome<nomad_lite::JobLogsRequest> parse_logs_query(const std::string& job_id,
                                                          const QueryParams& params);

// min_index=N (wait until this node applied index N: read-your-writes) and consistent=1|0|
// true|false (a linearizable read, through ReadIndex). Other parameters are ignored.
api::Error parse_read_options(const QueryParams& params, uint64_t* min_index, bool* consistent);

// parse_read_options into a read request's min_index and consistent.
template <class ReadRequest>
api::Error parse_read_options(const QueryParams& params, ReadRequest* request) {
  uint64_t min_index = 0;
  bool consistent = false;
  api::Error error = parse_read_options(params, &min_index, &consistent);
  request->set_min_index(min_index);
  request->set_consistent(consistent);
  return error;
}

// A decimal number without sign or spaces that fits `max`; false otherwise.
bool parse_unsigned(std::string_view text, uint64_t max, uint64_t* out);

}  // namespace nomad::http
