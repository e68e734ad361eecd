// libFuzzer target: the client API's service layer (api::Service) on an in-process single
// node, fed SubmitJob, GetJobStatus, ListJobs, CancelJob and StreamJobLogs requests. Half the
// inputs are the fuzz bytes decoded as the request's protobuf (what the gRPC adapter hands
// over after parsing); the other half are requests built field by field with
// FuzzedDataProvider, so that long strings, NUL bytes, undefined enum values and odd numbers
// reach every check. Each answer must hold what issue 17's Deliver list asks of it:
// - every refusal has a message, and quotes at most a short prefix of the input
//   (kMaxErrorBytes);
// - an accepted submission holds no NUL byte and a defined on_disconnect, and reads back as
//   it was sent; an idempotency key reused with another request is not a silent success;
// - an undefined status filter and a page token this server cannot have given out are
//   refused;
// - every call answers (a submission within 5 s).
// The node runs no jobs (--worker-slots 0) and does not fsync: its state is the job store the
// requests build up over the run.

#include <fuzzer/FuzzedDataProvider.h>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/message_differencer.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "api/service.h"
#include "fuzz_check.h"
#include "proto/nomad_lite.pb.h"
#include "server/cluster_port_adapter.h"
#include "server/node_host.h"

using namespace nomad;

namespace {

// An error message may quote a short prefix of what was sent, never all of it.
constexpr size_t kMaxErrorBytes = 1024;
constexpr auto kAnswerDeadline = std::chrono::seconds(5);  // libFuzzer's -timeout is 10 s

struct Fixture {
  std::string dir;
  server::NodeHost* host = nullptr;
  node::Node* node = nullptr;
  server::ClusterPortAdapter* port = nullptr;
  api::Service* service = nullptr;
  std::vector<std::string> job_ids;  // accepted so far (the first 1024)
  // Each idempotency key accepted: the request it named.
  std::map<std::string, nomad_lite::SubmitJobRequest> key_to_request;
};

Fixture* fixture = nullptr;

void stop_fixture() {
  if (!fixture) return;
  fixture->host->stop();
  std::error_code ignored;
  std::filesystem::remove_all(fixture->dir, ignored);
}

// Data directories of runs that ended without their exit handler (a crash, a timeout): named
// after their process, removed once it is gone.
void remove_stale_dirs(const std::filesystem::path& parent) {
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator(parent, ignored)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("service-fuzz-", 0) != 0) continue;
    const long pid = std::strtol(name.c_str() + 13, nullptr, 10);
    if (pid > 0 && kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
      std::filesystem::remove_all(entry.path(), ignored);
    }
  }
}

// One node, its own leader, in a temporary directory removed at exit.
Fixture& the_fixture() {
  if (fixture) return *fixture;
  spdlog::set_level(spdlog::level::err);
  google::protobuf::SetLogHandler(nullptr);  // "invalid UTF-8" on most inputs: noise, and slow
  fixture = new Fixture;
  const std::filesystem::path tmp = std::filesystem::temp_directory_path();
  remove_stale_dirs(tmp);
  fixture->dir = (tmp / ("service-fuzz-" + std::to_string(getpid()))).string();
  std::error_code made;
  std::filesystem::remove_all(fixture->dir, made);
  FUZZ_CHECK(std::filesystem::create_directory(fixture->dir, made), "a temporary data directory");
  node::ServerConfig config;
  config.node_id = 1;
  config.data_dir = fixture->dir;
  config.worker_slots = 0;
  config.fsync = false;
  config.log_level = "error";
  fixture->host = new server::NodeHost(config, "1");
  fixture->node = &fixture->host->node();
  fixture->port = new server::ClusterPortAdapter(*fixture->node, fixture->host->worker(),
                                                 fixture->host->internal_client());
  fixture->service = new api::Service(*fixture->port);  // before start: it adds a jobs listener
  Status started = fixture->host->start();
  FUZZ_CHECK(started.is_ok(), "the single node starts");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!fixture->node->is_leader() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polls the node's own state
  }
  FUZZ_CHECK(fixture->node->is_leader(), "a single node elects itself within 10 s");
  std::atexit(stop_fixture);
  return *fixture;
}

void check_error(const api::Error& error) {
  FUZZ_CHECK(!error.message.empty(), "a refusal says what is wrong");
  FUZZ_CHECK(error.message.size() <= kMaxErrorBytes,
             "a refusal quotes at most a short prefix of the input");
}

// Calls an API method that answers through a callback and waits for its answer.
template <class T, class Call>
api::Outcome<T> await(Call&& call) {
  auto promise = std::make_shared<std::promise<api::Outcome<T>>>();
  auto answer = promise->get_future();
  call([promise](api::Outcome<T> outcome) { promise->set_value(std::move(outcome)); });
  FUZZ_CHECK(answer.wait_for(kAnswerDeadline) == std::future_status::ready,
             "the service answers within 5 s");
  return answer.get();
}

bool defined_page_token(const std::string& token) {
  if (token.empty() || token[0] < '1' || token[0] > '9') return false;
  return token.find_first_not_of("0123456789") == std::string::npos;
}

std::string job_id(FuzzedDataProvider& in, const Fixture& f) {
  if (!f.job_ids.empty() && in.ConsumeBool()) {
    return f.job_ids[in.ConsumeIntegralInRange<size_t>(0, f.job_ids.size() - 1)];
  }
  return in.ConsumeRandomLengthString(16 * 1024);
}

void submit(Fixture& f, const nomad_lite::SubmitJobRequest& request) {
  // Jobs never run here (no worker slots): a wait is cut short, to stay within kAnswerDeadline.
  nomad_lite::SubmitJobRequest call = request;
  call.set_wait_ms(std::min<uint64_t>(request.wait_ms(), 50));
  auto out = await<nomad_lite::SubmitJobResponse>(
      [&](auto done) { f.service->submit_job(call, std::move(done)); });
  if (!out.ok()) return check_error(out.error);
  const nomad_lite::Job& job = out.value.job();
  FUZZ_CHECK(job.command().find('\0') == std::string::npos, "an accepted command has no NUL");
  for (const auto& [name, value] : job.env()) {
    FUZZ_CHECK(name.find('\0') == std::string::npos && value.find('\0') == std::string::npos,
               "an accepted environment has no NUL byte");
  }
  FUZZ_CHECK(nomad_lite::OnDisconnect_IsValid(job.on_disconnect()),
             "an accepted on_disconnect is defined");
  if (!request.idempotency_key().empty()) {
    nomad_lite::SubmitJobRequest sent = request;
    sent.clear_wait_ms();  // how long to wait is not part of what is asked for
    auto [it, first] = f.key_to_request.emplace(request.idempotency_key(), sent);
    FUZZ_CHECK(first || google::protobuf::util::MessageDifferencer::Equals(it->second, sent),
               "a key reused with another request is refused, not answered with the first job");
  }
  FUZZ_CHECK(job.command() == request.command(), "the job runs the command that was sent");
  if (f.job_ids.size() < 1024) f.job_ids.push_back(job.id());
  nomad_lite::GetJobStatusRequest get;
  get.set_job_id(job.id());
  auto read = f.service->get_job(get);
  FUZZ_CHECK(read.ok() && read.value.command() == request.command() &&
                 read.value.env_size() == request.env_size(),
             "an accepted job reads back as it was sent");
}

void list(Fixture& f, const nomad_lite::ListJobsRequest& request) {
  auto out = f.service->list_jobs(request);
  if (!out.ok()) return check_error(out.error);
  FUZZ_CHECK(nomad_lite::JobStatus_IsValid(request.status()), "an undefined status is refused");
  FUZZ_CHECK(request.page_token().empty() || defined_page_token(request.page_token()),
             "a page token accepted is one this server can have given out");
  size_t limit = request.limit() == 0 ? 100 : std::min<size_t>(request.limit(), api::kMaxListLimit);
  FUZZ_CHECK(static_cast<size_t>(out.value.jobs_size()) <= limit, "a page holds at most limit");
}

void get(Fixture& f, const nomad_lite::GetJobStatusRequest& request) {
  auto out = f.service->get_job(request);
  if (!out.ok()) return check_error(out.error);
  FUZZ_CHECK(out.value.id() == request.job_id(), "the job asked for is the one answered");
}

void cancel(Fixture& f, const nomad_lite::CancelJobRequest& request) {
  auto out =
      await<nomad_lite::Job>([&](auto done) { f.service->cancel_job(request, std::move(done)); });
  if (!out.ok()) return check_error(out.error);
  FUZZ_CHECK(out.value.id() == request.job_id(), "the job cancelled is the one asked for");
}

void logs(Fixture& f, nomad_lite::JobLogsRequest request) {
  request.set_follow(false);  // no job ever runs here: following would wait for ever
  size_t chunks = 0;
  api::Error error = f.service->stream_logs(
      request, [&](const nomad_lite::LogChunk&) { return ++chunks < 64; }, [] { return false; });
  if (error.code != api::Code::kOk) check_error(error);
}

nomad_lite::SubmitJobRequest built_submit(FuzzedDataProvider& in) {
  nomad_lite::SubmitJobRequest r;
  r.set_command(in.ConsumeRandomLengthString(80 * 1024));
  r.set_timeout_ms(in.ConsumeIntegral<uint64_t>());
  r.set_retries(in.ConsumeIntegralInRange<uint32_t>(0, 120));
  for (int i = in.ConsumeIntegralInRange(0, 4); i > 0; --i) {
    std::string name = in.ConsumeRandomLengthString(32);
    (*r.mutable_env())[name] = in.ConsumeRandomLengthString(1024);
  }
  if (in.ConsumeBool()) r.set_idempotency_key(in.ConsumeRandomLengthString(300));
  r.set_priority(in.ConsumeIntegral<int32_t>());
  r.set_on_disconnect(static_cast<nomad_lite::OnDisconnect>(in.ConsumeIntegralInRange(-2, 3)));
  if (in.ConsumeBool()) r.set_lost_retries(in.ConsumeIntegralInRange<uint32_t>(0, 120));
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Fixture& f = the_fixture();
  FuzzedDataProvider in(data, size);
  const int method = in.ConsumeIntegralInRange(0, 4);
  if (in.ConsumeBool()) {
    // The rest of the input as the request's protobuf; what does not parse, gRPC refuses.
    std::string bytes = in.ConsumeRemainingBytesAsString();
    switch (method) {
      case 0: {
        nomad_lite::SubmitJobRequest r;
        if (r.ParseFromString(bytes)) submit(f, r);
        break;
      }
      case 1: {
        nomad_lite::GetJobStatusRequest r;
        if (r.ParseFromString(bytes)) get(f, r);
        break;
      }
      case 2: {
        nomad_lite::ListJobsRequest r;
        if (r.ParseFromString(bytes)) list(f, r);
        break;
      }
      case 3: {
        nomad_lite::CancelJobRequest r;
        if (r.ParseFromString(bytes)) cancel(f, r);
        break;
      }
      default: {
        nomad_lite::JobLogsRequest r;
        if (r.ParseFromString(bytes)) logs(f, r);
        break;
      }
    }
    return 0;
  }
  switch (method) {
    case 0:
      submit(f, built_submit(in));
      break;
    case 1: {
      nomad_lite::GetJobStatusRequest r;
      r.set_job_id(job_id(in, f));
      get(f, r);
      break;
    }
    case 2: {
      nomad_lite::ListJobsRequest r;
      r.set_status(static_cast<nomad_lite::JobStatus>(in.ConsumeIntegralInRange(-1, 8)));
      r.set_limit(in.ConsumeIntegral<uint32_t>());
      r.set_page_token(in.ConsumeRandomLengthString(16 * 1024));
      r.set_query(in.ConsumeRandomLengthString(256));
      list(f, r);
      break;
    }
    case 3: {
      nomad_lite::CancelJobRequest r;
      r.set_job_id(job_id(in, f));
      cancel(f, r);
      break;
    }
    default: {
      nomad_lite::JobLogsRequest r;
      r.set_job_id(job_id(in, f));
      r.set_stderr(in.ConsumeBool());
      r.set_attempt(in.ConsumeIntegral<uint32_t>());
      r.set_offset(in.ConsumeIntegral<uint64_t>());
      logs(f, r);
      break;
    }
  }
  return 0;
}
