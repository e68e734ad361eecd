#pragma once

// The membership subcommands of `nomad-lite cluster`: members, add-server ID ADDR,
// remove-server ID. Parsed here so that args.cc only wires them in.

#include <CLI/CLI.hpp>
#include <string>

#include "cli/args.h"
#include "common/status.h"

namespace nomad::cli {

struct MemberFlags {
  CLI::App* members = nullptr;
  CLI::App* add_server = nullptr;
  CLI::App* remove_server = nullptr;
  std::string add_id, add_address, remove_id;  // checked by finish_member
};

// Adds the subcommands to `cluster`, bound to *f.
void add_member_flags(CLI::App* cluster, MemberFlags* f);
bool member_command_parsed(const MemberFlags& f);
// Which command was given and its arguments checked: an id from 1, an address host:port.
Status finish_member(const MemberFlags& f, Command* command, MemberOptions* out);

}  // namespace nomad::cli
