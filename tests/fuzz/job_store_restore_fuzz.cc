// libFuzzer target: arbitrary bytes as the job store's part of a snapshot, which a node
// restores from its own disk at start-up and from the leader's InstallSnapshot. restore()
// must load it or refuse it with an error; a store it loads must answer every read (lists,
// pending reasons, the API's JSON) without a crash, give the same jobs when its own snapshot
// is restored again, and stay consistent when its finished jobs are removed.

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

// The jobs of a store's snapshot, in id order, each as its bytes.
std::vector<std::string> jobs_of(const std::string& snapshot) {
  nomad_lite::JobStoreSnapshot parsed;
  FUZZ_CHECK(parsed.ParseFromString(snapshot), "a store's own snapshot parses");
  std::vector<std::pair<std::string, std::string>> jobs;
  for (const auto& job : parsed.jobs()) {
    jobs.emplace_back(job.id(), job.SerializeAsString());
  }
  std::sort(jobs.begin(), jobs.end());
  std::vector<std::string> out;
  for (auto& [id, bytes] : jobs) out.push_back(std::move(bytes));
  return out;
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
  FUZZ_CHECK(jobs_of(again.snapshot()) == jobs_of(first),
             "a store's own snapshot restores to the same jobs");
  FUZZ_CHECK(again.size() == store.size(), "a store's own snapshot restores every job");

  // Retention removes finished jobs; the indexes must follow.
  nomad_lite::Command remove;
  jobs::ListQuery all;
  all.limit = SIZE_MAX;
  for (const auto& job : store.list(all).jobs) remove.mutable_remove()->add_job_ids(job.id());
  store.apply({1, 1, raft::EntryType::kNormal, remove.SerializeAsString()});
  read_everything(store);
  return 0;
}
