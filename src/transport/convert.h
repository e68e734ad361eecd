#pragma once

// Between the core's messages and their wire form. Messages from the network are checked for
// values the core's enums cannot hold; the core itself checks the rest.

#include <string>

#include "proto/nomad_lite.pb.h"
#include "raft/types.h"

namespace nomad::transport {

void to_wire(const raft::Message& message, nomad_lite::RaftMessage* out);
// False (with *why) for a message no correct peer sends.
bool from_wire(const nomad_lite::RaftMessage& wire, raft::Message* out, std::string* why);

}  // namespace nomad::transport
