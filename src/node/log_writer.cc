#include "node/log_writer.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "common/thread_name.h"

namespace nomad::node {

LogWriter::LogWriter(LogSink& sink, Send send, Report report)
    : sink_(sink), send_(std::move(send)), report_(std::move(report)) {}

LogWriter::~LogWriter() { stop(); }

void LogWriter::start() {
  thread_ = std::thread([this] {
    common::name_this_thread("log-writer");
    run();
  });
}

void LogWriter::submit(LogWrite write) {
  {
    std::lock_guard lock(mu_);
    if (failed_) return;  // made before the loop learned of the failure: handed out again later
    queue_.push_back(std::move(write));
    if (queue_.size() > 1) return;  // the thread was woken already, or is busy writing
  }
  cv_.notify_one();
}

void LogWriter::resume() {
  std::lock_guard lock(mu_);
  failed_ = false;
}

void LogWriter::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void LogWriter::run() {
  std::vector<LogWrite> group;
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything is written
      // Everything that piled up during the last sync goes into this one.
      group.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
      queue_.clear();
    }
    write_group(group);
    group.clear();
  }
}

void LogWriter::write_group(std::vector<LogWrite>& group) {
  LogWriteReport report;
  report.writes = group.size();
  bool sync = false;
  Status s;
  for (LogWrite& w : group) {
    if (w.snapshot) {
      s = sink_.save_installed_snapshot(*w.snapshot);
      if (!s) break;
      report.snapshot_saved = w.snapshot->index;
      sync = true;  // its record in the log must be durable before what follows it
    }
    if (w.hard_state || !w.entries.empty()) {
      s = sink_.write(w.hard_state, w.entries);
      if (!s) break;
      if (!w.entries.empty()) report.persisted = {w.entries.back().index, w.entries.back().term};
    }
    sync = sync || w.must_sync;
  }
  if (s && sync) {
    s = sink_.sync();
    if (s) ++syncs_;
  }
  if (!s) {
    report.failure = s;
    report.out_of_space = sink_.out_of_space();
    report.sync_failed = sink_.sync_failed();
    report.persisted.reset();
    report.snapshot_saved.reset();
    {
      std::lock_guard lock(mu_);
      failed_ = true;
      report.writes += queue_.size();
      queue_.clear();
    }
    report_(std::move(report));
    return;
  }
  writes_ += group.size();
  std::vector<raft::Message> out;
  for (LogWrite& w : group) {
    for (raft::Message& m : w.after_append) out.push_back(std::move(m));
  }
  if (!out.empty()) send_(std::move(out));
  report_(std::move(report));
  // Compaction's clean-up, after the writes it was queued behind; a failure costs only space.
  for (const LogWrite& w : group) {
    if (!w.release_to) continue;
    if (Status r = sink_.release_to(*w.release_to); !r) spdlog::warn("{}", r.message());
  }
}

}  // namespace nomad::node
