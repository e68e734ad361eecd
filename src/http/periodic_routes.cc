// Periodic jobs over REST (README "Periodic jobs", docs/http-api.md): create, list, read,
// pause, resume, cancel, run-now. Writes reaching a follower go on to the leader.

#include <future>

#include "api/json.h"
#include "api/periodic_json.h"
#include "common/duration.h"
#include "http/errors.h"
#include "http/http_server.h"
#include "http/leader_write.h"
#include "http/request_parse.h"
#include "jobs/periodic.h"

namespace nomad::http {
namespace {

using nlohmann::json;

api::Error invalid_periodic(std::string message) {
  return {api::Code::kInvalidArgument, std::move(message), 0, {}};
}

// The body of POST /api/periodic: the schedule fields, and the rest as a job's (parse_submit).
api::Outcome<nomad_lite::CreatePeriodicJobRequest> parse_create(const std::string& body) {
  api::Outcome<nomad_lite::CreatePeriodicJobRequest> out;
  // Strict as POST /api/jobs: the job's fields are checked again below from a re-serialized
  // copy, which would have lost a duplicate key.
  std::string duplicate_error;
  json doc = parse_json_strict(body, &duplicate_error);
  if (doc.is_discarded() || !doc.is_object()) {
    out.error = invalid_periodic(
        std::string(doc.is_discarded() ? "the body is not valid JSON; send" : "the body must be") +
        " a JSON object like {\"command\": \"date\", \"cron\": \"*/5 * * * *\"}");
    return out;
  }
  if (!duplicate_error.empty()) {
    out.error = invalid_periodic(std::move(duplicate_error));
    return out;
  }
  auto& r = out.value;
  auto text = [&](const char* name, std::string* value) {
    if (!doc.contains(name) || doc[name].is_null()) return true;
    if (!doc[name].is_string()) {
      out.error = invalid_periodic(std::string("'") + name + "' must be a string");
      return false;
    }
    *value = doc[name].get<std::string>();
    doc.erase(name);
    return true;
  };
  std::string cron, every, tz, overlap, catch_up;
  if (!text("cron", &cron) || !text("every", &every) || !text("tz", &tz) ||
      !text("overlap", &overlap) || !text("catch_up", &catch_up)) {
    return out;
  }
  r.set_cron(cron);
  r.set_tz(tz);
  if (!every.empty()) {
    std::string why;
    auto d = parse_duration(every, &why);
    if (!d || d->count() <= 0) {
      out.error = invalid_periodic("'every' must be a duration such as \"1m\" or \"30s\"" +
                                   (why.empty() ? std::string() : " (" + why + ")"));
      return out;
    }
    r.set_every_ms(static_cast<uint64_t>(d->count()));
  }
  nomad_lite::OverlapPolicy overlap_policy = nomad_lite::OVERLAP_ALLOW;
  if (!overlap.empty() && !jobs::parse_overlap(overlap, &overlap_policy)) {
    out.error = invalid_periodic("'overlap' must be \"allow\", \"skip\" or \"cancel\"");
    return out;
  }
  r.set_overlap(overlap_policy);
  nomad_lite::CatchUpPolicy catch_up_policy = nomad_lite::CATCH_UP_LAST;
  if (!catch_up.empty() && !jobs::parse_catch_up(catch_up, &catch_up_policy)) {
    out.error = invalid_periodic("'catch_up' must be \"last\", \"none\" or \"all\"");
    return out;
  }
  r.set_catch_up(catch_up_policy);
  if (doc.contains("keep_runs") && !doc["keep_runs"].is_null()) {
    if (!doc["keep_runs"].is_number_unsigned()) {
      out.error = invalid_periodic("'keep_runs' must be a whole number from 1 to " +
                                   std::to_string(jobs::kMaxKeepRuns));
      return out;
    }
    r.set_keep_runs(static_cast<uint32_t>(
        std::min<uint64_t>(doc["keep_runs"].get<uint64_t>(), jobs::kMaxKeepRuns + 1)));
    doc.erase("keep_runs");
  }
  auto job = parse_submit(doc.dump());
  if (!job.ok()) {
    out.error = job.error;
    if (out.error.message.rfind("unknown field", 0) == 0) {
      out.error.message +=
          "; a periodic job also has cron, every, tz, overlap, catch_up, keep_runs";
    }
    return out;
  }
  *r.mutable_job() = std::move(job.value);
  return out;
}

}  // namespace

void HttpServer::add_periodic_routes() {
  // Runs `local` on this node; when it is not the leader, `forward` to the leader instead.
  auto write = [](const Request& req, Response& res, int status, const auto& local,
                  const auto& forward) {
    auto out = write_at_leader<nomad_lite::PeriodicJobResponse>(req, local, forward);
    if (!out.ok()) return reply_error(res, out.error);
    json body = api::periodic_to_json(out.value.periodic());
    body["index"] = out.value.index();
    if (!out.value.job().id().empty()) body["child"] = api::job_to_json(out.value.job());
    if (status == 201)
      res.set_header("Location", "/api/periodic/" + out.value.periodic().periodic().id());
    reply_json(res, status, body);
  };

  route(
      "POST", "/api/periodic",
      [this, write](const Request& req, Response& res) {
        auto request = parse_create(req.body);
        if (!request.ok()) return reply_error(res, request.error);
        write(
            req, res, 201,
            [&](auto done) { service_.create_periodic(request.value, std::move(done)); },
            [&](const std::string& leader, const std::string& authorization) {
              return forwarder_.create_periodic(leader, request.value, authorization);
            });
      },
      Run::kWorker);

  for (const auto& action_and_name : {std::pair{nomad_lite::PERIODIC_PAUSE, "pause"},
                                      std::pair{nomad_lite::PERIODIC_RESUME, "resume"},
                                      std::pair{nomad_lite::PERIODIC_CANCEL, "cancel"},
                                      std::pair{nomad_lite::PERIODIC_RUN_NOW, "run-now"}}) {
    // Copied out of the pair: clang before 16 cannot capture a structured binding in a lambda.
    const auto action = action_and_name.first;
    const auto* name = action_and_name.second;
    route(
        "POST", std::string("/api/periodic/{id}/") + name,
        [this, write, action](const Request& req, Response& res) {
          nomad_lite::ControlPeriodicJobRequest request;
          request.set_periodic_id(req.matches[1]);
          request.set_action(action);
          write(
              req, res, 200,
              [&](auto done) { service_.control_periodic(request, std::move(done)); },
              [&](const std::string& leader, const std::string& authorization) {
                return forwarder_.control_periodic(leader, request, authorization);
              });
        },
        Run::kWorker);
  }

  route(
      "GET", "/api/periodic",
      [this](const Request& req, Response& res) {
        nomad_lite::ListPeriodicJobsRequest request;
        if (api::Error e = parse_read_options(req.params, &request); e.code != api::Code::kOk) {
          return reply_error(res, e);
        }
        std::promise<api::Outcome<nomad_lite::ListPeriodicJobsResponse>> answer;
        auto future = answer.get_future();
        service_.read_periodic_list(request,
                                    [&answer](auto out) { answer.set_value(std::move(out)); });
        auto out = future.get();  // bounded: the read barrier fails after kReadWaitMs
        if (!out.ok()) return reply_error(res, out.error);
        json list = json::array();
        for (const auto& view : out.value.periodic()) list.push_back(api::periodic_to_json(view));
        reply_json(res, 200, {{"periodic", std::move(list)}, {"index", out.value.index()}});
      },
      Run::kWorker);

  route(
      "GET", "/api/periodic/{id}",
      [this](const Request& req, Response& res) {
        nomad_lite::GetPeriodicJobRequest request;
        request.set_periodic_id(req.matches[1]);
        if (api::Error e = parse_read_options(req.params, &request); e.code != api::Code::kOk) {
          return reply_error(res, e);
        }
        std::promise<api::Outcome<nomad_lite::PeriodicJobResponse>> answer;
        auto future = answer.get_future();
        service_.read_periodic(request, [&answer](auto out) { answer.set_value(std::move(out)); });
        auto out = future.get();
        if (!out.ok()) return reply_error(res, out.error);
        json body = api::periodic_to_json(out.value.periodic());
        body["index"] = out.value.index();
        reply_json(res, 200, body);
      },
      Run::kWorker);
}

}  // namespace nomad::http
