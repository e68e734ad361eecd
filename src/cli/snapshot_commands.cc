#include "cli/snapshot_commands.h"

#include <nlohmann/json.hpp>

#include "api/json.h"
#include "cli/job_wait.h"
#include "cli/output.h"
#include "cli/table.h"
#include "jobs/job_store.h"
#include "storage/backup_file.h"
#include "storage/file_util.h"

namespace nomad::cli {
namespace {

using nlohmann::json;

json backup_members_json(const storage::BackupHeader& h) {
  json members = json::array();
  for (const auto& m : h.members) {
    members.push_back({{"id", m.id}, {"address", m.address}, {"voter", m.voter}});
  }
  return members;
}

std::string backup_members_text(const storage::BackupHeader& h) {
  std::string out;
  for (const auto& m : h.members) {
    out += (out.empty() ? "" : ", ") + std::to_string(m.id) + " " + m.address +
           (m.voter ? "" : " (learner)");
  }
  return out.empty() ? "-" : out;
}

std::string backup_crc_hex(uint32_t crc) {
  char text[16];
  snprintf(text, sizeof(text), "%08x", crc);
  return text;
}

}  // namespace

int run_snapshot_save(const std::string& path, OutputFormat format, Client& client,
                      std::ostream& out, std::ostream& err) {
  std::string bytes;
  grpc::Status status = client.save_snapshot(&bytes);
  if (!status.ok()) {
    err << "nomad-lite: operator snapshot save: " << describe(status) << "\n";
    return kExitError;
  }
  // Checked before it replaces anything: a file written is a file fit to restore from.
  storage::BackupHeader header;
  std::string data;
  if (Status s = storage::decode_backup(bytes, "the snapshot received", &header, &data); !s) {
    err << "nomad-lite: operator snapshot save: " << s.message() << "\n";
    return kExitError;
  }
  if (Status s = storage::write_file_atomically(path, bytes); !s) {
    err << "nomad-lite: operator snapshot save: " << s.message() << "\n";
    return kExitError;
  }
  if (format == OutputFormat::kJson) {
    out << json{{"file", path},
                {"size", bytes.size()},
                {"index", header.index},
                {"term", header.term},
                {"job_count", header.job_count},
                {"cluster_id", header.cluster_id},
                {"leader", client.current_target()},
                {"created_at", api::format_timestamp(header.created_at_ms)},
                {"checksum", backup_crc_hex(header.data_crc)}}
               .dump()
        << "\n";
  } else {
    out << "Saved snapshot " << path << ": index " << header.index << ", term " << header.term
        << ", " << header.job_count << " jobs, " << bytes.size() << " bytes, from the leader at "
        << client.current_target() << "\n";
  }
  return 0;
}

int run_snapshot_inspect(const std::string& path, OutputFormat format, std::ostream& out,
                         std::ostream& err) {
  std::string bytes;
  if (Status s = storage::read_file(path, &bytes); !s) {
    err << "nomad-lite: operator snapshot inspect: " << s.message() << "\n";
    return kExitError;
  }
  storage::BackupHeader header;
  size_t offset = 0;
  if (Status s = storage::decode_backup_header(bytes, path, &header, &offset); !s) {
    err << "nomad-lite: operator snapshot inspect: " << s.message() << "\n";
    return kExitError;
  }
  const bool intact = storage::backup_data_intact(header, bytes, offset);
  std::string problem = intact ? "" : path + " is damaged (checksum mismatch in its data)";
  jobs::JobStore store;
  if (intact) {
    if (Status s = store.restore(bytes.substr(offset)); !s) {
      problem = path + " is damaged (its job state cannot be read: " + s.message() + ")";
    }
  }
  const bool ok = problem.empty();
  std::vector<std::pair<std::string, uint64_t>> by_status;
  if (ok) {
    for (auto status : {nomad_lite::JOB_STATUS_PENDING, nomad_lite::JOB_STATUS_RUNNING,
                        nomad_lite::JOB_STATUS_COMPLETED, nomad_lite::JOB_STATUS_FAILED,
                        nomad_lite::JOB_STATUS_CANCELLED}) {
      by_status.emplace_back(jobs::status_name(status), store.totals().by_status[status]);
    }
  }

  if (format == OutputFormat::kJson) {
    json j{{"file", path},
           {"size", bytes.size()},
           {"format_version", header.version},
           {"index", header.index},
           {"term", header.term},
           {"cluster_id", header.cluster_id},
           {"members", backup_members_json(header)},
           {"created_at", api::format_timestamp(header.created_at_ms)},
           {"job_count", header.job_count},
           {"checksum", backup_crc_hex(header.data_crc)},
           {"checksum_ok", ok}};
    if (ok) {
      json counts = json::object();
      for (const auto& [name, count] : by_status) counts[name] = count;
      j["jobs_by_status"] = std::move(counts);
    }
    out << j.dump() << "\n";
  } else {
    out << render_table({
        {"File", path},
        {"Size", std::to_string(bytes.size()) + " bytes"},
        {"Format", "version " + std::to_string(header.version)},
        {"Index", std::to_string(header.index)},
        {"Term", std::to_string(header.term)},
        {"Cluster", header.cluster_id},
        {"Members", backup_members_text(header)},
        {"Created", api::format_timestamp(header.created_at_ms)},
        {"Jobs", std::to_string(header.job_count)},
        {"Checksum", backup_crc_hex(header.data_crc) + (ok ? " OK" : " BAD")},
    });
    if (ok) {
      std::vector<std::vector<std::string>> rows{{"STATUS", "JOBS"}};
      for (const auto& [name, count] : by_status) rows.push_back({name, std::to_string(count)});
      out << "\n" << render_table(rows);
    }
  }
  if (!ok) {
    err << "nomad-lite: operator snapshot inspect: " << problem
        << ": do not restore from it; take a new snapshot or use another copy\n";
    return kExitError;
  }
  return 0;
}

}  // namespace nomad::cli
