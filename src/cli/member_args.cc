#include "cli/member_args.h"

#include <algorithm>

#include "api/members.h"

namespace nomad::cli {
namespace {

Status parse_node_id(const std::string& text, uint64_t* out) {
  bool digits = !text.empty() && text.size() <= 19 &&
                std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits || std::stoull(text) == 0) {
    return Status::error("ID: '" + text + "' is not a node id (a number from 1)");
  }
  *out = std::stoull(text);
  return Status::ok();
}

}  // namespace

void add_member_flags(CLI::App* cluster, MemberFlags* f) {
  f->members = cluster->add_subcommand(
      "members", "List the voters and learners, their progress and the leader");
  f->add_server = cluster->add_subcommand(
      "add-server",
      "Add a server as a learner; the leader makes it a voter once it has caught up (operator)");
  f->add_server->add_option("ID", f->add_id, "The new server's --node-id")->required();
  f->add_server->add_option("ADDR", f->add_address, "host:port the others reach it at")->required();
  f->add_server->footer("Example: nomad-lite cluster add-server 4 10.0.0.4:50051");
  f->remove_server = cluster->add_subcommand(
      "remove-server", "Remove a server from the cluster (a leader removing itself steps down)");
  f->remove_server->add_option("ID", f->remove_id, "The server's node id")->required();
}

bool member_command_parsed(const MemberFlags& f) {
  return f.members->parsed() || f.add_server->parsed() || f.remove_server->parsed();
}

Status finish_member(const MemberFlags& f, Command* command, MemberOptions* out) {
  if (f.members->parsed()) {
    *command = Command::kClusterMembers;
    return Status::ok();
  }
  if (f.add_server->parsed()) {
    *command = Command::kClusterAddServer;
    if (Status s = parse_node_id(f.add_id, &out->id); !s) return s;
    api::Error bad = api::check_member_address(f.add_address);
    if (bad.code != api::Code::kOk) return Status::error("ADDR: " + bad.message);
    out->address = f.add_address;
    return Status::ok();
  }
  *command = Command::kClusterRemoveServer;
  return parse_node_id(f.remove_id, &out->id);
}

}  // namespace nomad::cli
