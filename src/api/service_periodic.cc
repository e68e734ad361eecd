// Periodic jobs through the client API (README "Periodic jobs"): create one, pause, resume,
// cancel or run it now, and read them with their next run and recent runs.

#include <cstdio>

#include "api/service.h"
#include "common/quote.h"
#include "common/random_id.h"
#include "common/unix_time.h"
#include "jobs/cron.h"
#include "jobs/periodic.h"

namespace nomad::api {
namespace {

Error invalid_periodic(std::string message) {
  return {Code::kInvalidArgument, std::move(message), 0, {}};
}

// What is wrong with the schedule part of `request` ("" when nothing).
std::string schedule_error(const nomad_lite::CreatePeriodicJobRequest& request) {
  if (request.cron().empty() == (request.every_ms() == 0)) {
    return "give exactly one of cron (a cron expression) and every_ms (a fixed interval)";
  }
  std::string error;
  if (request.cron().size() > jobs::kMaxCronBytes) {
    return "cron is " + std::to_string(request.cron().size()) +
           " bytes; the longest expression taken is " + std::to_string(jobs::kMaxCronBytes);
  }
  if (!request.cron().empty()) {
    if (!jobs::CronSchedule::parse(request.cron(), &error)) return error;
    const date::time_zone* zone = nullptr;
    if (!jobs::find_time_zone(request.tz(), &zone, &error)) return error;
  } else {
    if (!request.tz().empty()) {
      return "tz applies to cron schedules only: an interval is the same in every zone";
    }
    if (request.every_ms() < static_cast<uint64_t>(jobs::kMinEveryMs)) {
      return "every_ms is " + std::to_string(request.every_ms()) + "; the shortest interval is " +
             std::to_string(jobs::kMinEveryMs) + " ms (1s)";
    }
  }
  if (!nomad_lite::OverlapPolicy_IsValid(request.overlap())) {
    return "overlap " + std::to_string(request.overlap()) + " is none of allow, skip, cancel";
  }
  if (!nomad_lite::CatchUpPolicy_IsValid(request.catch_up())) {
    return "catch_up " + std::to_string(request.catch_up()) + " is none of last, none, all";
  }
  if (request.has_keep_runs() &&
      (request.keep_runs() == 0 || request.keep_runs() > jobs::kMaxKeepRuns)) {
    return "keep_runs is " + std::to_string(request.keep_runs()) + "; give 1 to " +
           std::to_string(jobs::kMaxKeepRuns);
  }
  return "";
}

// The periodic job as clients see it: the children's live status, and the next run.
nomad_lite::PeriodicJobView view_of(const jobs::JobStore& store,
                                    const nomad_lite::PeriodicJob& periodic) {
  nomad_lite::PeriodicJobView view;
  *view.mutable_periodic() = periodic;
  for (auto& run : *view.mutable_periodic()->mutable_runs()) {
    if (const nomad_lite::Job* child = store.find(run.job_id())) run.set_status(child->status());
  }
  if (auto next = jobs::next_run_ms(periodic)) view.set_next_run_ms(*next);
  return view;
}

// "p-" and 16 hex digits: random, or (with a key) the key's FNV-1a hash, so that a retried
// creation, on whichever node, names the same periodic job.
std::string periodic_id_for(const std::string& idempotency_key) {
  if (idempotency_key.empty()) return "p-" + common::random_hex(8);
  uint64_t hash = 14695981039346656037ULL;
  for (unsigned char c : idempotency_key) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return std::string("p-") + hex;
}

Error check_periodic_id(const std::string& id) {
  if (id.empty()) return invalid_periodic("periodic_id is empty");
  if (id.find('\0') != std::string::npos)
    return invalid_periodic("periodic_id contains a NUL byte");
  return {};
}

Error no_periodic(const std::string& id) {
  return {Code::kNotFound,
          "no periodic job " + common::quote_input(id) + " (job list --periodic shows them)",
          0,
          {}};
}

}  // namespace

void Service::create_periodic(const nomad_lite::CreatePeriodicJobRequest& request,
                              std::function<void(Outcome<nomad_lite::PeriodicJobResponse>)> done) {
  if (std::string error = submit_request_error(request.job()); !error.empty()) {
    return done({invalid_periodic(std::move(error)), {}});
  }
  if (std::string error = schedule_error(request); !error.empty()) {
    return done({invalid_periodic(std::move(error)), {}});
  }
  // Every child would wait for the same jobs, done long before its tick (the CLI refuses
  // --after with --cron too).
  if (request.job().after_size() > 0) {
    return done({invalid_periodic("after does not apply to a periodic job: its children run on "
                                  "their schedule"),
                 {}});
  }
  nomad_lite::Command command;
  nomad_lite::PeriodicJob* p = command.mutable_periodic_create();
  p->set_id(periodic_id_for(request.job().idempotency_key()));
  p->set_idempotency_key(request.job().idempotency_key());
  *p->mutable_child() = job_from_request(request.job());
  p->mutable_child()->clear_id();  // each child is named by its tick
  p->mutable_child()->clear_created_at_ms();
  p->set_cron(request.cron());
  p->set_every_ms(request.every_ms());
  p->set_tz(request.tz() == "UTC" ? "" : request.tz());
  p->set_overlap(request.overlap());
  p->set_catch_up(request.catch_up());
  p->set_keep_runs(request.has_keep_runs() ? request.keep_runs() : jobs::kDefaultKeepRuns);
  p->set_created_at_ms(common::unix_now_ms());
  propose(command, [this, id = p->id(), done = std::move(done)](Outcome<nomad_lite::Job> out) {
    Outcome<nomad_lite::PeriodicJobResponse> answer;
    answer.error = std::move(out.error);
    answer.index = out.index;
    answer.value.set_index(out.index);
    if (answer.ok()) {
      read_jobs([&](const jobs::JobStore& store) {
        if (const auto* periodic = store.find_periodic(id)) {
          *answer.value.mutable_periodic() = view_of(store, *periodic);
        }
      });
    }
    done(std::move(answer));
  });
}

void Service::control_periodic(const nomad_lite::ControlPeriodicJobRequest& request,
                               std::function<void(Outcome<nomad_lite::PeriodicJobResponse>)> done) {
  if (Error e = check_periodic_id(request.periodic_id()); e.code != Code::kOk) {
    return done({std::move(e), {}});
  }
  if (request.action() == nomad_lite::PERIODIC_ACTION_UNSPECIFIED ||
      !nomad_lite::PeriodicAction_IsValid(request.action())) {
    return done({invalid_periodic("action " + std::to_string(request.action()) +
                                  " is none of pause (1), resume (2), cancel (3), run-now (4)"),
                 {}});
  }
  const bool known = read_jobs([&](const jobs::JobStore& store) {
    return store.find_periodic(request.periodic_id()) != nullptr;
  });
  if (!known) return done({no_periodic(request.periodic_id()), {}});
  nomad_lite::Command command;
  auto* control = command.mutable_periodic_control();
  control->set_periodic_id(request.periodic_id());
  control->set_action(request.action());
  control->set_at_ms(common::unix_now_ms());
  propose(command,
          [this, id = request.periodic_id(), done = std::move(done)](Outcome<nomad_lite::Job> out) {
            Outcome<nomad_lite::PeriodicJobResponse> answer;
            answer.error = std::move(out.error);
            answer.index = out.index;
            answer.value.set_index(out.index);
            if (!out.value.id().empty()) *answer.value.mutable_job() = std::move(out.value);
            read_jobs([&](const jobs::JobStore& store) {
              if (const auto* periodic = store.find_periodic(id)) {
                *answer.value.mutable_periodic() = view_of(store, *periodic);
              }
            });
            done(std::move(answer));
          });
}

void Service::read_periodic(const nomad_lite::GetPeriodicJobRequest& request,
                            std::function<void(Outcome<nomad_lite::PeriodicJobResponse>)> done) {
  if (Error e = check_periodic_id(request.periodic_id()); e.code != Code::kOk) {
    return done({std::move(e), {}});
  }
  read_barrier(request.min_index(), request.consistent(),
               [this, request, done = std::move(done)](Error e, uint64_t applied) {
                 Outcome<nomad_lite::PeriodicJobResponse> out;
                 out.error = std::move(e);
                 if (out.ok()) {
                   read_jobs([&](const jobs::JobStore& store) {
                     const auto* periodic = store.find_periodic(request.periodic_id());
                     if (!periodic) {
                       out.error = no_periodic(request.periodic_id());
                     } else {
                       *out.value.mutable_periodic() = view_of(store, *periodic);
                     }
                   });
                 }
                 out.value.set_index(applied);
                 done(std::move(out));
               });
}

void Service::read_periodic_list(
    const nomad_lite::ListPeriodicJobsRequest& request,
    std::function<void(Outcome<nomad_lite::ListPeriodicJobsResponse>)> done) {
  read_barrier(request.min_index(), request.consistent(),
               [this, done = std::move(done)](Error e, uint64_t applied) {
                 Outcome<nomad_lite::ListPeriodicJobsResponse> out;
                 out.error = std::move(e);
                 if (out.ok()) {
                   read_jobs([&](const jobs::JobStore& store) {
                     for (const auto& [id, periodic] : store.periodic()) {
                       *out.value.add_periodic() = view_of(store, periodic);
                     }
                   });
                 }
                 out.value.set_index(applied);
                 done(std::move(out));
               });
}

}  // namespace nomad::api
