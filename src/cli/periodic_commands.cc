#include "cli/periodic_commands.h"

#include <algorithm>

#include "api/json.h"
#include "api/periodic_json.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/table.h"
#include "common/duration.h"
#include "common/unix_time.h"
#include "jobs/job_store.h"
#include "jobs/periodic.h"

namespace nomad::cli {
namespace {

int periodic_fail(std::ostream& err, const std::string& what, const grpc::Status& status) {
  err << "nomad-lite: " << what << ": " << describe(status) << "\n";
  return status.error_code() == grpc::StatusCode::INVALID_ARGUMENT ? 2 : 1;
}

std::string periodic_dump(const nlohmann::json& j) {
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string schedule_text(const nomad_lite::PeriodicJob& p) {
  if (p.cron().empty()) {
    return "every " + format_duration(Millis(static_cast<int64_t>(p.every_ms())));
  }
  return "cron '" + p.cron() + "'" + (p.tz().empty() ? " UTC" : " " + p.tz());
}

std::string next_text(const nomad_lite::PeriodicJobView& view, int64_t now_ms) {
  if (view.next_run_ms() == 0) return "-";
  const int64_t in = view.next_run_ms() - now_ms;
  return api::format_timestamp(view.next_run_ms()) +
         (in >= 0 ? " (in " + format_age(-in) + ")" : " (due)");
}

// The last runs as one character each, oldest first: '.' completed, 'F' failed, 'C'
// cancelled, 'R' running or pending, 'S' skipped, 'M' missed.
std::string history_strip(const nomad_lite::PeriodicJob& p, size_t width) {
  std::vector<std::pair<int64_t, char>> marks;
  for (const auto& run : p.runs()) {
    if (run.tick_ms() == 0) continue;  // run-now children are not ticks
    char c = 'R';
    switch (run.status()) {
      case nomad_lite::JOB_STATUS_COMPLETED:
        c = '.';
        break;
      case nomad_lite::JOB_STATUS_FAILED:
        c = 'F';
        break;
      case nomad_lite::JOB_STATUS_CANCELLED:
        c = 'C';
        break;
      default:
        break;
    }
    marks.push_back({run.tick_ms(), c});
  }
  for (const auto& run : p.not_run()) {
    marks.push_back({run.tick_ms(), run.kind() == nomad_lite::PERIODIC_RUN_SKIPPED ? 'S' : 'M'});
  }
  std::sort(marks.begin(), marks.end());
  std::string strip;
  for (size_t i = marks.size() > width ? marks.size() - width : 0; i < marks.size(); ++i) {
    strip += marks[i].second;
  }
  return strip.empty() ? "-" : strip;
}

void print_periodic(std::ostream& out, const nomad_lite::PeriodicJobView& view, OutputFormat format,
                    int64_t now_ms) {
  if (format == OutputFormat::kJson) {
    out << periodic_dump(api::periodic_to_json(view)) << "\n";
    return;
  }
  const nomad_lite::PeriodicJob& p = view.periodic();
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"ID", p.id()});
  rows.push_back({"Command", p.child().command()});
  rows.push_back({"Schedule", schedule_text(p)});
  rows.push_back({"State", api::periodic_state(p)});
  rows.push_back({"Next run", next_text(view, now_ms)});
  rows.push_back({"Overlap", jobs::overlap_name(p.overlap())});
  rows.push_back({"Catch-up", jobs::catch_up_name(p.catch_up())});
  rows.push_back({"Keep runs", std::to_string(p.keep_runs())});
  rows.push_back(
      {"Counts", "launched " + std::to_string(p.launched()) + ", completed " +
                     std::to_string(p.completed()) + ", failed " + std::to_string(p.failed()) +
                     ", cancelled " + std::to_string(p.cancelled_runs()) + ", skipped " +
                     std::to_string(p.skipped()) + ", missed " + std::to_string(p.missed())});
  rows.push_back({"History", history_strip(p, 60) +
                                 "  (. completed, F failed, C cancelled, R running, S skipped, "
                                 "M missed)"});
  rows.push_back({"Created", api::format_timestamp(p.created_at_ms())});
  out << render_table(rows);
  std::vector<std::vector<std::string>> runs = {{"TICK", "RESULT", "JOB"}};
  std::vector<std::pair<int64_t, std::vector<std::string>>> lines;
  for (const auto& run : p.runs()) {
    lines.push_back({run.tick_ms() ? run.tick_ms() : run.at_ms(),
                     {run.tick_ms() ? api::format_timestamp(run.tick_ms()) : "run now",
                      std::string(api::job_status_name(run.status())), run.job_id()}});
  }
  for (const auto& run : p.not_run()) {
    lines.push_back({run.tick_ms(),
                     {api::format_timestamp(run.tick_ms()), jobs::run_kind_name(run.kind()), "-"}});
  }
  std::sort(lines.begin(), lines.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  constexpr size_t kLastRuns = 10;
  for (size_t i = lines.size() > kLastRuns ? lines.size() - kLastRuns : 0; i < lines.size(); ++i) {
    runs.push_back(lines[i].second);
  }
  if (runs.size() > 1) out << "\n" << render_table(runs);
}

int create(const Invocation& inv, Client& client, std::ostream& out, std::ostream& err) {
  nomad_lite::CreatePeriodicJobRequest request;
  auto* job = request.mutable_job();
  job->set_command(inv.submit.command);
  job->set_timeout_ms(static_cast<uint64_t>(inv.submit.timeout.count()));
  job->set_retries(inv.submit.retries);
  job->set_lost_retries(inv.submit.lost_retries);
  job->set_on_disconnect(inv.submit.on_disconnect);
  job->set_priority(inv.submit.priority);
  for (const auto& [key, value] : inv.submit.env) (*job->mutable_env())[key] = value;
  // A retried creation (after a lost answer or a leader change) gets the job it created.
  job->set_idempotency_key(inv.submit.idempotency_key.empty() ? random_idempotency_key()
                                                              : inv.submit.idempotency_key);
  request.set_cron(inv.submit.cron);
  request.set_every_ms(static_cast<uint64_t>(inv.submit.every.count()));
  request.set_tz(inv.submit.tz);
  request.set_overlap(inv.submit.overlap);
  request.set_catch_up(inv.submit.catch_up);
  if (inv.submit.keep_runs) request.set_keep_runs(*inv.submit.keep_runs);
  nomad_lite::PeriodicJobResponse response;
  grpc::Status status = client.create_periodic_job(request, &response);
  if (!status.ok()) return periodic_fail(err, "job submit", status);
  if (inv.client.output == OutputFormat::kJson) {
    nlohmann::json j = api::periodic_to_json(response.periodic());
    j["index"] = response.index();
    out << periodic_dump(j) << "\n";
    return 0;
  }
  print_periodic(out, response.periodic(), inv.client.output, common::unix_now_ms());
  return 0;
}

int list(const Invocation& inv, Client& client, std::ostream& out, std::ostream& err) {
  nomad_lite::ListPeriodicJobsResponse response;
  grpc::Status status = client.list_periodic_jobs({}, &response);
  if (!status.ok()) return periodic_fail(err, "job list --periodic", status);
  // A cancelled periodic job ticks no more: like a line gone from a crontab it is left out,
  // unless --all asks for it; retention removes it as it does a finished job.
  size_t hidden = 0;
  if (!inv.list.all) {
    auto* views = response.mutable_periodic();
    auto cancelled = [](const nomad_lite::PeriodicJobView& v) { return v.periodic().cancelled(); };
    hidden = static_cast<size_t>(std::count_if(views->begin(), views->end(), cancelled));
    views->erase(std::remove_if(views->begin(), views->end(), cancelled), views->end());
  }
  if (hidden > 0) {
    err << "note: " << hidden << " cancelled periodic job" << (hidden == 1 ? "" : "s")
        << " not shown (job list --periodic --all shows them)\n";
  }
  if (inv.client.output == OutputFormat::kJson) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& view : response.periodic()) list.push_back(api::periodic_to_json(view));
    out << periodic_dump({{"periodic", std::move(list)}}) << "\n";
    return 0;
  }
  const int64_t now_ms = common::unix_now_ms();
  std::vector<std::vector<std::string>> rows = {
      {"ID", "SCHEDULE", "STATE", "NEXT RUN", "LAST RUNS", "OK/FAIL/SKIP", "COMMAND"}};
  for (const auto& view : response.periodic()) {
    const nomad_lite::PeriodicJob& p = view.periodic();
    std::string command = p.child().command();
    if (command.size() > 40) command = command.substr(0, 37) + "...";
    rows.push_back({p.id(), schedule_text(p), api::periodic_state(p), next_text(view, now_ms),
                    history_strip(p, 10),
                    std::to_string(p.completed()) + "/" + std::to_string(p.failed()) + "/" +
                        std::to_string(p.skipped()),
                    command});
  }
  out << render_table(rows);
  return 0;
}

int status(const Invocation& inv, Client& client, std::ostream& out, std::ostream& err) {
  nomad_lite::GetPeriodicJobRequest request;
  request.set_periodic_id(inv.job_id);
  nomad_lite::PeriodicJobResponse response;
  grpc::Status status = client.get_periodic_job(request, &response);
  if (!status.ok()) return periodic_fail(err, "job status", status);
  print_periodic(out, response.periodic(), inv.client.output, common::unix_now_ms());
  return 0;
}

int control(const Invocation& inv, Client& client, std::ostream& out, std::ostream& err) {
  nomad_lite::ControlPeriodicJobRequest request;
  request.set_periodic_id(inv.job_id);
  const char* what = "job cancel";
  switch (inv.command) {
    case Command::kJobPause:
      request.set_action(nomad_lite::PERIODIC_PAUSE);
      what = "job pause";
      break;
    case Command::kJobResume:
      request.set_action(nomad_lite::PERIODIC_RESUME);
      what = "job resume";
      break;
    case Command::kJobRunNow:
      request.set_action(nomad_lite::PERIODIC_RUN_NOW);
      what = "job run-now";
      break;
    default:
      request.set_action(nomad_lite::PERIODIC_CANCEL);
  }
  nomad_lite::PeriodicJobResponse response;
  grpc::Status status = client.control_periodic_job(request, &response);
  if (!status.ok()) return periodic_fail(err, what, status);
  if (response.has_job()) {  // run-now: the child is what the user wants to follow
    print_job(out, response.job(), inv.client.output, common::unix_now_ms());
    return 0;
  }
  print_periodic(out, response.periodic(), inv.client.output, common::unix_now_ms());
  return 0;
}

}  // namespace

bool is_periodic_id(const std::string& id) {
  if (id.size() != 18 || id.rfind("p-", 0) != 0) return false;
  return id.find_first_not_of("0123456789abcdef", 2) == std::string::npos;
}

int run_periodic_command(const Invocation& inv, Client& client, std::ostream& out,
                         std::ostream& err) {
  switch (inv.command) {
    case Command::kJobSubmit:
      return create(inv, client, out, err);
    case Command::kJobList:
      return list(inv, client, out, err);
    case Command::kJobStatus:
      return status(inv, client, out, err);
    default:
      return control(inv, client, out, err);
  }
}

}  // namespace nomad::cli
