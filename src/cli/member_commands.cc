#include "cli/member_commands.h"

#include "api/members.h"
#include "cli/table.h"

namespace nomad::cli {

void print_members(std::ostream& out, const nomad_lite::ListMembersResponse& r,
                   OutputFormat format) {
  if (format == OutputFormat::kJson) {
    out << api::members_to_json(r).dump() << "\n";
    return;
  }
  bool progress = r.leader_id() != 0 && r.leader_id() == r.node_id();
  std::vector<std::vector<std::string>> rows = {
      {"", "ID", "ADDRESS", "ROLE", "MATCH", "LAG", "ACTIVE"}};
  for (const auto& m : r.members()) {
    rows.push_back(
        {m.leader() ? "*" : "", std::to_string(m.id()), m.address(),
         m.voter() ? "voter" : "learner", progress ? std::to_string(m.match_index()) : "-",
         progress ? std::to_string(m.lag()) : "-", progress ? (m.active() ? "yes" : "no") : "-"});
  }
  out << render_table(rows) << "(* leader; last index " << r.last_index()
      << (progress ? "" : "; progress is known to the leader only") << "; membership set at index "
      << r.membership_index() << ")\n";
}

namespace {

bool has_member(const nomad_lite::ListMembersResponse& r, uint64_t id) {
  for (const auto& m : r.members()) {
    if (m.id() == id) return true;
  }
  return false;
}

}  // namespace

int run_member_command(const Invocation& inv, Client& client, std::ostream& out,
                       std::ostream& err) {
  const char* what = inv.command == Command::kClusterMembers     ? "cluster members"
                     : inv.command == Command::kClusterAddServer ? "cluster add-server"
                                                                 : "cluster remove-server";
  grpc::Status status;
  nomad_lite::ListMembersResponse members;
  if (inv.command == Command::kClusterMembers) {
    // The leader knows each member's progress: ask it when it is known.
    status = client.list_members({}, &members);
    if (status.ok() && members.leader_id() != 0 && members.leader_id() != members.node_id()) {
      std::string leader_address;
      for (const auto& m : members.members()) {
        if (m.id() == members.leader_id()) leader_address = m.address();
      }
      nomad_lite::ListMembersResponse from_leader;
      if (!leader_address.empty() && Client({leader_address}).list_members({}, &from_leader).ok()) {
        members = std::move(from_leader);
      }
    }
  } else {
    nomad_lite::MembershipChangeResponse changed;
    if (inv.command == Command::kClusterAddServer) {
      nomad_lite::AddServerRequest request;
      request.set_id(inv.member.id);
      request.set_address(inv.member.address);
      status = client.add_server(request, &changed);
    } else {
      nomad_lite::RemoveServerRequest request;
      request.set_id(inv.member.id);
      // A leader removing itself steps down around the commit; the client then retries at
      // another node, which no longer has the member. A member seen just before the call and
      // gone after it was removed by this call (or by another, with the same outcome).
      nomad_lite::ListMembersResponse before;
      bool was_member = client.list_members({}, &before).ok() && has_member(before, inv.member.id);
      status = client.remove_server(request, &changed);
      nomad_lite::ListMembersResponse after;
      if (status.error_code() == grpc::StatusCode::NOT_FOUND && was_member &&
          client.list_members({}, &after).ok() && !has_member(after, inv.member.id)) {
        status = grpc::Status::OK;
        changed.set_index(after.membership_index());
        *changed.mutable_members() = std::move(after);
      }
    }
    if (status.ok()) {
      members = changed.members();
      if (inv.client.output == OutputFormat::kTable) {
        out << (inv.command == Command::kClusterAddServer
                    ? "node " + std::to_string(inv.member.id) +
                          " added as a learner; the leader makes it a voter once it has "
                          "caught up"
                    : "node " + std::to_string(inv.member.id) + " removed")
            << " (committed at index " << changed.index() << ")\n\n";
      }
    }
  }
  if (!status.ok()) {
    err << "nomad-lite: " << what << ": " << describe(status) << "\n";
    return 1;
  }
  print_members(out, members, inv.client.output);
  return 0;
}

}  // namespace nomad::cli
