// libFuzzer target: arbitrary bytes as the job store's part of a snapshot, which a node
// restores from its own disk at start-up and from the leader's InstallSnapshot. restore()
// must load it or refuse it with an error; a store it loads must answer every read (lists,
// pending reasons, the API's JSON) without a crash, give the same jobs when its own snapshot
// is restored again, take the commands that follow, and stay consistent when its finished
// jobs are removed.

#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "api/json.h"
#include "fuzz_check.h"
#include "jobs/job_store.h"

using namespace nomad;

namespace {

// Whether two snapshots of a store hold the same jobs (a snapshot lists them in no order).
bool same_jobs(const std::string& a, const std::string& b) {
  nomad_lite::JobStoreSnapshot x, y;
  FUZZ_CHECK(x.ParseFromString(a) && y.ParseFromString(b), "a store's own snapshot parses");
  if (x.jobs_size() != y.jobs_size()) return false;
  auto by_id = [](const nomad_lite::Job& p, const nomad_lite::Job& q) { return p.id() < q.id(); };
  std::sort(x.mutable_jobs()->begin(), x.mutable_jobs()->end(), by_id);
  std::sort(y.mutable_jobs()->begin(), y.mutable_jobs()->end(), by_id);
  for (int i = 0; i < x.jobs_size(); ++i) {
    if (!google::protobuf::util::MessageDifferencer::Equals(x.jobs(i), y.jobs(i))) return false;
  }
  return true;
}

void read_everything(const jobs::JobStore& store) {
  for (auto status : {nomad_lite::JOB_STATUS_UNSPECIFIED, nomad_lite::JOB_STATUS_PENDING,
                      nomad_lite::JOB_STATUS_RUNNING, nomad_lite::JOB_STATUS_COMPLETED}) {
    jobs::ListQuery query;
    query.status = status;
    query.limit = 3;
    jobs::ListPage page = store.list(query);
    FUZZ_CHECK(page.jobs.size() <= page.total, "a page holds at most every match");
    for (const auto& job : page.jobs) {
      FUZZ_CHECK(store.find(job.id()) != nullptr, "a listed job can be found");
      (void)store.pending_reason(job, 0);
      (void)store.pending_reason(job, INT64_MAX);
      (void)api::job_to_json(job, api::JobJson::kWithOutput).dump();
    }
  }
  for (const auto& [key, id] : store.pending_queue()) {
    FUZZ_CHECK(store.find(id) != nullptr, "a queued job exists");
  }
  for (const auto& [at, id] : store.finished_order()) {
    FUZZ_CHECK(store.find(id) != nullptr, "a finished job exists");
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);  // "invalid UTF-8" on most inputs: noise, and slow
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  jobs::JobStore store;
  Status status = store.restore(bytes);
  if (!status) {
    FUZZ_CHECK(!status.message().empty(), "a refused snapshot gets a message");
    return 0;
  }
  read_everything(store);

  std::string first = store.snapshot();
  jobs::JobStore again;
  FUZZ_CHECK(again.restore(first), "a store's own snapshot restores");
  FUZZ_CHECK(same_jobs(again.snapshot(), first),
             "a store's own snapshot restores to the same jobs");
  FUZZ_CHECK(again.size() == store.size(), "a store's own snapshot restores every job");

  // The commands that follow a restore: each job's attempt placed, started, finished or
  // cancelled, whatever the snapshot said of it. The store takes or refuses each.
  jobs::ListQuery all;
  all.limit = SIZE_MAX;
  std::vector<nomad_lite::Job> listed = store.list(all).jobs;
  raft::Index index = 1;
  for (const auto& job : listed) {
    nomad_lite::Command command;
    auto* updates = command.mutable_updates();
    updates->set_at_ms(job.created_at_ms() + 1);
    auto* assign = updates->add_assign();
    assign->set_job_id(job.id());
    assign->set_attempt(job.attempt() + 1);
    assign->set_node_id(1);
    auto* started = updates->add_started();
    started->set_job_id(job.id());
    started->set_attempt(job.attempt());
    started->set_node_id(job.node_id());
    auto* finished = updates->add_finished();
    finished->set_job_id(job.id());
    finished->set_attempt(job.attempt());
    finished->set_node_id(job.node_id());
    finished->set_reason(index % 2 ? "lost" : "");
    (void)store.apply({1, index++, raft::EntryType::kNormal, command.SerializeAsString()});
    nomad_lite::Command cancel;
    cancel.mutable_cancel()->set_job_id(job.id());
    (void)store.apply({1, index++, raft::EntryType::kNormal, cancel.SerializeAsString()});
  }
  read_everything(store);

  // Retention removes finished jobs; the indexes must follow.
  nomad_lite::Command remove;
  for (const auto& job : store.list(all).jobs) remove.mutable_remove()->add_job_ids(job.id());
  (void)store.apply({1, index, raft::EntryType::kNormal, remove.SerializeAsString()});
  FUZZ_CHECK(store.size() == 0, "every job is finished after the cancels, and removed");
  read_everything(store);
  return 0;
}
