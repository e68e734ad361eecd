#include "server/agent_identity.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "storage/file_util.h"

namespace nomad::server {
namespace {

constexpr const char* kAgentFile = "agent.json";

}  // namespace

Status load_agent_identity(const std::string& data_dir, std::optional<AgentIdentity>* out) {
  out->reset();
  const std::string path = (std::filesystem::path(data_dir) / kAgentFile).string();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Status::ok();
  std::string text;
  if (Status s = storage::read_file(path, &text); !s) return s;
  auto bad = [&path](const std::string& why) {
    return Status::error(path + ": " + why +
                         "; remove the file to register as a new agent (the cluster then gives "
                         "this agent a new id)");
  };
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
  if (!j.contains("id") || !j["id"].is_number_unsigned() || j["id"].get<uint64_t>() == 0) {
    return bad("no agent id (a positive number)");
  }
  if (!j.contains("cluster") || !j["cluster"].is_string()) return bad("no cluster name");
  *out = AgentIdentity{j["id"].get<uint64_t>(), j["cluster"].get<std::string>()};
  return Status::ok();
}

Status save_agent_identity(const std::string& data_dir, const AgentIdentity& identity) {
  nlohmann::json j = {{"id", identity.id}, {"cluster", identity.cluster}};
  const std::string path = (std::filesystem::path(data_dir) / kAgentFile).string();
  const std::string temp = path + ".tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::error("cannot create " + temp + ": " + std::strerror(errno));
  std::string text = j.dump(2) + "\n";
  Status written = storage::write_all(fd, text, temp);
  if (written) written = storage::sync_file(fd, false, temp);
  ::close(fd);
  if (!written) return written;
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    return Status::error("cannot rename " + temp + " to " + path + ": " + std::strerror(errno));
  }
  return storage::sync_directory(data_dir);
}

}  // namespace nomad::server
