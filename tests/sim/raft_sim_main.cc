// build/raft-sim: runs the deterministic cluster simulation over a range of seeds.
//
//   raft-sim --seeds N [--start-seed S] [--nodes K] [--trace] [--bug NAME] [--profile P]
//            [--disk-full PER_MILLE] [--no-membership]
//
// Exits 0 only when no seed violated an invariant; the last line is always
// "raft-sim: N seeds, V violations". Every failure names its seed, the invariant, and the
// command that replays it with a full trace. Bad flags: one error line on stderr, status 2.

#include <charconv>
#include <cstdint>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "invariants.h"
#include "simulation.h"

namespace {

using nomad::sim::SimOptions;
using nomad::sim::SimResult;

constexpr const char* kUsage =
    "usage: raft-sim --seeds N [--start-seed S] [--nodes K] [--trace] [--bug NAME] "
    "[--profile P] [--disk-full PER_MILLE] [--no-membership]\n"
    "  --seeds N       number of seeds to run (N >= 1)\n"
    "  --start-seed S  first seed (default 1)\n"
    "  --nodes K       cluster size for every seed (default: 3 for odd seeds, 5 for even)\n"
    "  --trace         print every event of every seed\n"
    "  --bug NAME      switch on a planted bug in every node: grant_second_vote,\n"
    "                  commit_previous_term_by_count, truncate_on_stale_append,\n"
    "                  count_own_unsynced_entries, send_vote_before_durable,\n"
    "                  concurrent_conf_changes, count_learners_in_quorum\n"
    "  --profile P     fault profile for every seed: mixed, leader-churn (default: each\n"
    "                  seed draws one; a quarter get leader-churn)\n"
    "  --disk-full PER_MILLE  chance per group of writes that a node's disk is full for\n"
    "                  5-300 ms\n"
    "                  (default 0)\n"
    "  --no-membership no membership changes and no spare nodes (by default two spares\n"
    "                  start outside the cluster; servers are added and removed, the\n"
    "                  leader too, under every fault)\n";

// Far beyond any real cluster; keeps a typo from allocating a million simulated nodes.
constexpr uint64_t kMaxNodes = 1000;

struct Flags {
  uint64_t seeds = 0;
  uint64_t start_seed = 1;
  std::optional<uint64_t> nodes;
  bool trace = false;
  std::string bug;
  std::string profile;
  uint32_t disk_full_per_mille = 0;
  bool no_membership = false;
};

std::optional<uint64_t> parse_number(std::string_view text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// Returns an error message, or nothing when the flags are valid.
std::optional<std::string> parse_flags(int argc, char** argv, Flags* flags, bool* help) {
  bool have_seeds = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::optional<std::string_view> inline_value;
    if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      inline_value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    auto value = [&]() -> std::optional<std::string_view> {
      if (inline_value) return inline_value;
      if (i + 1 < argc) return std::string_view(argv[++i]);
      return std::nullopt;
    };
    auto number = [&](uint64_t min) -> std::optional<uint64_t> {
      auto v = value();
      if (!v) return std::nullopt;
      auto n = parse_number(*v);
      if (!n || *n < min) return std::nullopt;
      return n;
    };

    if (arg == "--help" || arg == "-h") {
      *help = true;
      return std::nullopt;
    } else if (arg == "--trace" && !inline_value) {
      flags->trace = true;
    } else if (arg == "--no-membership" && !inline_value) {
      flags->no_membership = true;
    } else if (arg == "--seeds") {
      auto n = number(1);
      if (!n) return "--seeds needs a whole number of seeds, at least 1";
      flags->seeds = *n;
      have_seeds = true;
    } else if (arg == "--start-seed") {
      auto n = number(0);
      if (!n) return "--start-seed needs a whole number";
      flags->start_seed = *n;
    } else if (arg == "--nodes") {
      auto n = number(1);
      if (!n || *n > kMaxNodes) {
        return "--nodes needs a whole number of nodes from 1 to " + std::to_string(kMaxNodes);
      }
      flags->nodes = *n;
    } else if (arg == "--bug") {
      auto v = value();
      if (!v || !nomad::sim::planted_bug(*v)) {
        std::string names;
        for (const std::string& name : nomad::sim::planted_bug_names()) {
          names += (names.empty() ? "" : ", ") + name;
        }
        return "--bug needs one of: " + names;
      }
      flags->bug = std::string(*v);
    } else if (arg == "--disk-full") {
      auto n = value();
      auto v = n ? parse_number(*n) : std::nullopt;
      if (!v || *v > 1000) return "--disk-full needs a chance per mille from 0 to 1000";
      flags->disk_full_per_mille = static_cast<uint32_t>(*v);
    } else if (arg == "--profile") {
      auto v = value();
      if (!v || !nomad::sim::parse_fault_profile(*v)) {
        return "--profile needs one of: mixed, leader-churn";
      }
      flags->profile = std::string(*v);
    } else {
      return "unknown argument '" + std::string(argv[i]) + "'";
    }
  }
  if (!have_seeds) return "--seeds N is required";
  return std::nullopt;
}

void print_failure(const SimResult& r, const Flags& flags) {
  const auto& v = *r.violation;
  std::cout << "raft-sim: seed " << r.seed << " (" << r.nodes << " nodes) VIOLATED "
            << nomad::sim::violation_kind_name(v.kind) << " at " << nomad::sim::format_time(v.at)
            << ": " << v.details << "\n";
  std::cout << "raft-sim: reproduce with: build/raft-sim --start-seed " << r.seed
            << " --seeds 1 --nodes " << r.nodes << " --trace"
            << (flags.bug.empty() ? "" : " --bug " + flags.bug)
            << (flags.profile.empty() ? "" : " --profile " + flags.profile)
            << (flags.disk_full_per_mille == 0
                    ? ""
                    : " --disk-full " + std::to_string(flags.disk_full_per_mille))
            << (flags.no_membership ? " --no-membership" : "") << "\n";
}

void print_summary(const SimResult& r) {
  const auto& s = r.stats;
  std::cout << "raft-sim: seed " << r.seed << " (" << r.nodes << " nodes) "
            << (r.ok() ? "ok" : "FAILED") << ": " << s.events << " events, " << s.messages_sent
            << " messages (" << s.messages_dropped << " dropped), " << s.crashes << " crashes, "
            << s.partitions << " partitions, " << s.compactions << " compactions, "
            << s.snapshots_installed << " snapshots installed, " << s.writes << " writes in "
            << s.syncs << " syncs, " << s.disk_full << " write groups failed on a full disk, "
            << s.conf_changes << " membership changes (" << s.conf_changes_refused << " refused, "
            << s.promotions << " learners promoted), " << s.leader_terms << " terms with a leader, "
            << s.committed << " committed, " << s.clients.acked << "/" << s.clients.proposed
            << " proposals acknowledged";
  if (r.ok()) {
    std::cout << ", recovered " << nomad::sim::format_time(s.recovery_time) << " after healing";
  }
  std::cout << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  bool help = false;
  if (auto error = parse_flags(argc, argv, &flags, &help)) {
    std::cerr << "raft-sim: " << *error << " (see raft-sim --help)\n";
    return 2;
  }
  if (help) {
    std::cout << kUsage;
    return 0;
  }

  uint64_t violations = 0;
  for (uint64_t k = 0; k < flags.seeds; ++k) {
    SimOptions options;
    options.seed = flags.start_seed + k;
    options.nodes = flags.nodes ? *flags.nodes : nomad::sim::default_node_count(options.seed);
    if (!flags.bug.empty()) options.bugs = *nomad::sim::planted_bug(flags.bug);
    if (!flags.profile.empty()) options.profile = nomad::sim::parse_fault_profile(flags.profile);
    if (flags.trace) options.trace = &std::cout;
    options.disk_full_per_mille = flags.disk_full_per_mille;
    options.membership_changes = !flags.no_membership;

    SimResult result = nomad::sim::run_simulation(options);
    if (flags.trace) print_summary(result);
    if (!result.ok()) {
      ++violations;
      print_failure(result, flags);
    }
  }
  std::cout << "raft-sim: " << flags.seeds << " seeds, " << violations << " violations"
            << std::endl;
  return violations == 0 ? 0 : 1;
}
