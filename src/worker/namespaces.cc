#include "worker/namespaces.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

namespace nomad::worker {

std::string job_init_path(const std::string& configured) {
  if (!configured.empty()) return configured;
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  return (self.parent_path() / "nomad-lite-init").string();
}

std::string probe_job_namespaces(const std::string& init) {
  if (geteuid() != 0) return "the server does not run as root";
  if (init.empty() || access(init.c_str(), X_OK) != 0) {
    return "no executable nomad-lite-init at " + (init.empty() ? std::string("?") : init);
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return "pipe: " + std::system_category().message(errno);
  int in = above_stdio(open("/dev/null", O_RDONLY | O_CLOEXEC));
  int out = above_stdio(fds[1]);
  SpawnRequest probe;
  probe.program = init;
  probe.argv = {init, "--probe"};
  probe.cwd = "/";
  probe.stdin_fd = in;
  probe.stdout_fd = probe.stderr_fd = out;
  SpawnOutcome started = spawn_process(probe);
  close(in);
  close(out);
  std::string said;
  if (started.pid > 0) {
    char buf[512];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
      if (n > 0 && said.size() < 2048) said.append(buf, static_cast<size_t>(n));
    }
  }
  close(fds[0]);
  if (started.pid <= 0) return started.error;
  int status = 0;
  while (waitpid(started.pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  while (!said.empty() && said.back() == '\n') said.pop_back();
  return said.empty() ? "the probe failed (status " + std::to_string(status) + ")" : said;
}

std::vector<std::string> init_argv(const std::string& init, const Identity* user,
                                   const std::vector<std::string>& job_argv) {
  std::vector<std::string> argv = {init};
  if (user) {
    std::string spec = std::to_string(user->uid) + ":" + std::to_string(user->gid) + ":";
    for (size_t i = 0; i < user->groups.size(); ++i) {
      spec += (i ? "," : "") + std::to_string(user->groups[i]);
    }
    argv.insert(argv.end(), {"--user", spec});
  }
  argv.push_back("--");
  argv.insert(argv.end(), job_argv.begin(), job_argv.end());
  return argv;
}

}  // namespace nomad::worker
