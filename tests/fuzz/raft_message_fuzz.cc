// libFuzzer target: arbitrary bytes as a RaftBatch, what a peer's Raft stream carries. The
// batch is parsed as the server's stream parses it and every message converted by from_wire;
// a message from_wire takes must survive to_wire and back unchanged, and is then stepped into
// a follower and a leader of a three-node cluster, which must drop what they cannot use
// rather than crash.

#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/message_differencer.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "proto/nomad_lite.pb.h"
#include "raft/core.h"
#include "transport/convert.h"

using namespace nomad;

namespace {

// Node 1 of {1, 2, 3} with a snapshot at 5 and entries 6..8 of terms 2 and 3.
std::unique_ptr<raft::Core> make_core() {
  raft::Config config;
  config.id = 1;
  config.voters = {1, 2, 3};
  config.snapshot_chunk_bytes = 16;
  raft::RestoredState restored;
  restored.hard_state = {3, 0, 7};
  restored.snapshot_index = 5;
  restored.snapshot_term = 2;
  restored.snapshot_data = std::make_shared<const std::string>("snapshot of the state machine");
  restored.applied = 5;
  for (raft::Index i = 6; i <= 8; ++i) {
    restored.entries.push_back({i < 7 ? 2u : 3u, i, raft::EntryType::kNormal, "cmd"});
  }
  return std::make_unique<raft::Core>(config, restored);
}

// What a node does with a Ready between steps, without the disk and the network: every write
// is durable at once.
raft::Ready take_ready(raft::Core& core) {
  raft::Ready ready = core.ready();
  core.advance();
  if (!ready.entries.empty()) core.persisted(ready.entries.back().index, ready.entries.back().term);
  return ready;
}

void drain(raft::Core& core) {
  while (core.has_ready()) (void)take_ready(core);
}

// Times node 1 out and grants it node 2's pre-vote and vote.
std::unique_ptr<raft::Core> make_leader() {
  auto core = make_core();
  for (int tick = 0; tick < 1000 && core->role() != raft::Role::kLeader; ++tick) {
    core->tick();
    while (core->has_ready()) {
      raft::Ready ready = take_ready(*core);
      std::vector<raft::Message> sent = std::move(ready.messages);
      sent.insert(sent.end(), ready.messages_after_append.begin(),
                  ready.messages_after_append.end());
      for (const raft::Message& m : sent) {
        if (m.to != 2) continue;
        if (m.type == raft::MessageType::kPreVote || m.type == raft::MessageType::kVote) {
          raft::Message grant;
          grant.type = m.type == raft::MessageType::kPreVote ? raft::MessageType::kPreVoteResponse
                                                             : raft::MessageType::kVoteResponse;
          grant.from = 2;
          grant.to = 1;
          grant.term = m.term;
          core->step(grant);
        }
      }
    }
  }
  FUZZ_CHECK(core->role() == raft::Role::kLeader, "the leader for the fuzz run is elected");
  drain(*core);
  return core;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);  // "invalid UTF-8" on most inputs: noise, and slow
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nomad_lite::RaftBatch batch;
  if (!batch.ParseFromArray(data, static_cast<int>(size))) return 0;

  auto follower = make_core();
  auto leader = make_leader();
  for (const nomad_lite::RaftMessage& wire : batch.messages()) {
    raft::Message message;
    std::string why;
    if (!transport::from_wire(wire, &message, &why)) {
      FUZZ_CHECK(!why.empty(), "a refused message gets a reason");
      continue;
    }
    nomad_lite::RaftMessage back;
    transport::to_wire(message, &back);
    nomad_lite::RaftMessage known = wire;
    known.DiscardUnknownFields();
    FUZZ_CHECK(google::protobuf::util::MessageDifferencer::Equals(known, back),
               "a converted message converts back to the same wire message");

    for (raft::Core* core : {follower.get(), leader.get()}) {
      core->step(message, &why);
      drain(*core);
      core->tick();
      drain(*core);
      FUZZ_CHECK(core->commit_index() <= core->log().last_index(),
                 "nothing is committed beyond the log");
    }
  }
  return 0;
}
