#pragma once

// `node drain ID` and `node eligibility ID on|off` (README "Draining a node"). A drain waits
// and prints its progress until the node is empty, unless --detach.

#include <ostream>

#include "cli/args.h"
#include "cli/client.h"
#include "common/duration.h"

namespace nomad::cli {

// How often a waiting drain looks at the cluster again.
inline constexpr Millis kDrainPollEvery{500};

// Exit code 0 once done (for a drain: the node is empty); 1 when a call failed or the drain
// was cancelled or replaced while waited for.
int run_node_command(const Invocation& invocation, Client& client, std::ostream& out,
                     std::ostream& err);

}  // namespace nomad::cli
