// Reads and health checks: any node answers from its applied state.

#include "api/json.h"
#include "http/errors.h"
#include "http/http_server.h"
#include "http/request_parse.h"

namespace nomad::http {

using nlohmann::json;

void HttpServer::add_api_routes() {
  route(
      "GET", "/api/cluster",
      [this](const Request& req, Response& res) {
        nlohmann::json cluster = api::cluster_to_json(service_.cluster_status());
        // Whether this request's token may move leadership: the dashboard shows its button.
        cluster["operator"] =
            service_.authorize(req.get_header_value("Authorization"), api::Role::kOperator).code ==
            api::Code::kOk;
        reply_json(res, 200, cluster);
      },
      Run::kInline);

  route(
      "GET", "/api/jobs",
      [this](const Request& req, Response& res) {
        auto query = parse_list_query(req.params);
        if (!query.ok()) return reply_error(res, query.error);
        uint64_t applied = 0;
        if (api::Error e =
                service_.await_read(query.value.min_index(), query.value.consistent(), &applied);
            e.code != api::Code::kOk) {
          return reply_error(res, e);
        }
        auto page = service_.list_jobs(query.value);
        if (!page.ok()) return reply_error(res, page.error);
        json jobs = json::array();
        for (const auto& job : page.value.jobs()) jobs.push_back(api::job_to_json(job));
        const std::string& token = page.value.next_page_token();
        reply_json(res, 200,
                   {{"jobs", std::move(jobs)},
                    {"next_page_token", token.empty() ? json() : json(token)},
                    {"total", page.value.total()},
                    {"index", applied}});
      },
      Run::kWorker);

  route(
      "GET", "/api/jobs/{id}",
      [this](const Request& req, Response& res) {
        nomad_lite::GetJobStatusRequest get;
        get.set_job_id(req.matches[1]);
        uint64_t min_index = 0;
        bool consistent = false;
        if (api::Error e = parse_read_options(req.params, &min_index, &consistent);
            e.code != api::Code::kOk) {
          return reply_error(res, e);
        }
        if (api::Error e = service_.await_read(min_index, consistent); e.code != api::Code::kOk) {
          return reply_error(res, e);
        }
        auto job = service_.get_job(get);
        if (job.error.code == api::Code::kNotFound && !consistent) {
          // Unknown here: make sure nothing newer is committed before saying so.
          if (api::Error e = service_.await_read(0, true); e.code != api::Code::kOk) {
            return reply_error(res, e);
          }
          job = service_.get_job(get);
        }
        if (!job.ok()) return reply_error(res, job.error);
        reply_json(res, 200, api::job_to_json(job.value, api::JobJson::kWithOutput));
      },
      Run::kWorker);

  // The leader's state as a snapshot file (operator snapshot save); a follower fetches it from
  // the leader, so any node answers.
  route(
      "GET", "/api/operator/snapshot",
      [this](const Request& req, Response& res) {
        auto file = service_.save_snapshot();
        if (file.error.code == api::Code::kNotLeader) {
          file =
              forwarder_.snapshot(file.error.leader_address, req.get_header_value("Authorization"));
        }
        if (!file.ok()) return reply_error(res, file.error);
        res.status = 200;
        res.set_header("Content-Disposition", "attachment; filename=\"nomad-lite.snap\"");
        res.set_content(std::move(file.value), "application/octet-stream");
      },
      Run::kWorker);

  route(
      "GET", "/health/live",
      [](const Request&, Response& res) {
        reply_json(res, 200, {{"status", "ok"}});
      },
      Run::kInline);

  route(
      "GET", "/health/ready",
      [this](const Request&, Response& res) {
        auto cluster = service_.cluster_status();
        if (cluster.leader_id() != 0) {
          return reply_json(res, 200, {{"status", "ready"}, {"leader_id", cluster.leader_id()}});
        }
        res.set_header("Retry-After", "1");
        reply_json(res, 503,
                   {{"status", "no leader"},
                    {"leader_id", nullptr},
                    {"error",
                     "no leader is known: an election is under way or a majority of the "
                     "nodes is unreachable"}});
      },
      Run::kInline);
}

}  // namespace nomad::http
