#pragma once

// `cluster members`, `cluster add-server ID ADDR`, `cluster remove-server ID`.

#include <ostream>

#include "cli/args.h"
#include "cli/client.h"

namespace nomad::cli {

int run_member_command(const Invocation& invocation, Client& client, std::ostream& out,
                       std::ostream& err);

// The members as a table (leader marked, learners named, progress when a leader answered).
void print_members(std::ostream& out, const nomad_lite::ListMembersResponse& members,
                   OutputFormat format);

}  // namespace nomad::cli
