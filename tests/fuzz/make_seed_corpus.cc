// Writes the binary seeds of the fuzz targets into DIR/<target>/, so that each fuzzer begins
// from well-formed inputs and mutates them rather than searching for a valid header: WAL
// segments, a job store snapshot, a snapshot file holding it, and Raft batches. The text
// seeds (JSON, query strings, command lines, token files) are in tests/fuzz/corpus/.

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "jobs/job_store.h"
#include "proto/nomad_lite.pb.h"
#include "storage/backup_file.h"
#include "storage/snapshot_store.h"
#include "storage/wal.h"

using namespace nomad;
namespace fs = std::filesystem;

namespace {

void write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

bool write_wal_segments(const std::string& out) {
  fs::create_directories(out);
  std::string work = out + "/.wal";
  fs::remove_all(work);
  {
    storage::WalContents contents;
    Status status;
    auto wal =
        storage::Wal::open(work, {.node_id = 1, .segment_bytes = 1 << 10}, 0, &contents, &status);
    if (!wal) {
      std::fprintf(stderr, "%s\n", status.message().c_str());
      return false;
    }
    for (raft::Index i = 1; i <= 30; ++i) {
      (void)wal->write(raft::HardState{1 + i / 10, 1, i - 1},
                       {{1 + i / 10, i, raft::EntryType::kNormal, "cmd " + std::to_string(i)}});
    }
  }
  int n = 0;
  for (auto& f : fs::directory_iterator(work)) {
    fs::copy_file(f.path(), out + "/seed-" + std::to_string(n++),
                  fs::copy_options::overwrite_existing);
  }
  fs::remove_all(work);
  return true;
}

void apply(jobs::JobStore* store, raft::Index index, const nomad_lite::Command& command) {
  (void)store->apply({1, index, raft::EntryType::kNormal, command.SerializeAsString()});
}

// A store with a job in each state: pending, running, completed, failed and cancelled, and a
// pending one waiting for its retry.
std::string job_store_snapshot() {
  jobs::JobStore store;
  raft::Index index = 0;
  for (const char* id : {"pending", "running", "completed", "failed", "cancelled", "retrying"}) {
    nomad_lite::Command submit;
    auto* job = submit.mutable_submit()->mutable_job();
    job->set_id(id);
    job->set_command(std::string("echo ") + id);
    job->set_created_at_ms(1000);
    job->set_priority(index % 2 ? 5 : -1);
    job->set_retries(std::string(id) == "retrying" ? 1 : 0);
    (*job->mutable_env())["NAME"] = id;
    submit.mutable_submit()->set_idempotency_key(std::string("key-") + id);
    apply(&store, ++index, submit);
  }
  nomad_lite::Command updates;
  auto* u = updates.mutable_updates();
  u->set_at_ms(2000);
  auto* slots = u->add_slots();
  slots->set_node_id(1);
  slots->set_slots(4);
  for (const char* id : {"running", "completed", "failed", "retrying"}) {
    auto* a = u->add_assign();
    a->set_job_id(id);
    a->set_attempt(1);
    a->set_node_id(1);
  }
  apply(&store, ++index, updates);
  nomad_lite::Command ends;
  auto* e = ends.mutable_updates();
  e->set_at_ms(3000);
  for (const char* id : {"completed", "failed", "retrying"}) {
    auto* f = e->add_finished();
    f->set_job_id(id);
    f->set_attempt(1);
    f->set_node_id(1);
    f->set_at_ms(3000);
    f->set_exit_code(id[0] == 'c' ? 0 : 1);
    f->set_stdout_tail(std::string(id) + "\n");
  }
  apply(&store, ++index, ends);
  nomad_lite::Command cancel;
  cancel.mutable_cancel()->set_job_id("cancelled");
  cancel.mutable_cancel()->set_at_ms(4000);
  apply(&store, ++index, cancel);
  return store.snapshot();
}

bool write_snapshot_files(const std::string& out, const std::string& data) {
  std::string work = out + "/.snap";
  fs::remove_all(work);
  int n = 0;
  for (const std::string& d : {data, std::string()}) {
    if (Status s = storage::SnapshotStore(work).save({9, 2, d}, false); !s) {
      std::fprintf(stderr, "%s\n", s.message().c_str());
      return false;
    }
    for (auto& f : fs::directory_iterator(work)) {
      fs::copy_file(f.path(), out + "/seed-" + std::to_string(n++),
                    fs::copy_options::overwrite_existing);
    }
    fs::remove_all(work);
  }
  // The operator's snapshot file (operator snapshot save) of the same state.
  storage::BackupHeader header;
  header.index = 9;
  header.term = 2;
  header.job_count = 3;
  header.cluster_id = "1,2,3";
  header.members = {{1, true, "127.0.0.1:50051"}, {2, false, "127.0.0.1:50052"}};
  std::string file = storage::encode_backup(header, data);
  FILE* f = std::fopen((out + "/seed-" + std::to_string(n)).c_str(), "wb");
  if (!f || std::fwrite(file.data(), 1, file.size(), f) != file.size()) return false;
  std::fclose(f);
  return true;
}

nomad_lite::RaftMessage* add(nomad_lite::RaftBatch* batch, uint32_t type, uint64_t term) {
  auto* m = batch->add_messages();
  m->set_type(type);
  m->set_from(2);
  m->set_to(1);
  m->set_term(term);
  return m;
}

// Batches a peer sends: votes, appends with entries, heartbeats, responses, a snapshot chunk.
void write_raft_batches(const std::string& out) {
  nomad_lite::RaftBatch votes;
  votes.set_from(2);
  auto* pre = add(&votes, 0, 4);
  pre->set_index(8);
  pre->set_log_term(3);
  auto* vote = add(&votes, 2, 4);
  vote->set_index(8);
  vote->set_log_term(3);
  add(&votes, 3, 3)->set_reject(true);
  write(out + "/votes", votes.SerializeAsString());

  nomad_lite::RaftBatch appends;
  appends.set_from(2);
  auto* append = add(&appends, 4, 4);
  append->set_index(8);
  append->set_log_term(3);
  append->set_commit(9);
  for (uint64_t i = 9; i <= 10; ++i) {
    auto* e = append->add_entries();
    e->set_term(4);
    e->set_index(i);
    e->set_type(i == 9 ? 1 : 0);
    e->set_data("command");
  }
  add(&appends, 6, 4)->set_commit(10);
  write(out + "/appends", appends.SerializeAsString());

  nomad_lite::RaftBatch responses;
  responses.set_from(2);
  add(&responses, 5, 3)->set_index(8);
  auto* conflict = add(&responses, 5, 3);
  conflict->set_reject(true);
  conflict->set_index(7);
  conflict->set_conflict_term(2);
  conflict->set_conflict_index(6);
  add(&responses, 7, 3);
  add(&responses, 10, 3)->set_offset(16);
  add(&responses, 8, 3);
  write(out + "/responses", responses.SerializeAsString());

  nomad_lite::RaftBatch snapshot;
  snapshot.set_from(2);
  auto* chunk = add(&snapshot, 9, 4);
  chunk->set_index(12);
  chunk->set_log_term(4);
  chunk->set_offset(0);
  chunk->set_chunk("the first part of a snapshot");
  chunk->set_done(true);
  write(out + "/snapshot", snapshot.SerializeAsString());

  nomad_lite::RaftBatch keepalive;
  keepalive.set_from(2);
  write(out + "/keepalive", keepalive.SerializeAsString());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make-seed-corpus DIR\n");
    return 2;
  }
  std::string out = argv[1];
  for (const char* target : {"wal-reader", "job-store-restore", "snapshot-file", "raft-message"}) {
    fs::create_directories(out + "/" + target);
  }
  if (!write_wal_segments(out + "/wal-reader")) return 1;
  std::string jobs = job_store_snapshot();
  write(out + "/job-store-restore/a-job-in-each-state", jobs);
  if (!write_snapshot_files(out + "/snapshot-file", jobs)) return 1;
  write_raft_batches(out + "/raft-message");
  return 0;
}
