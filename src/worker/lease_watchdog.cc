#include "worker/lease_watchdog.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <new>

namespace nomad::worker {

// Shared between the server (writer of expires_ns and groups) and the watchdog (writer of
// signalled and its own bookkeeping). Lock-free atomics are address-free: they work across
// processes on one mapping.
struct LeaseWatchdog::Page {
  std::atomic<int64_t> expires_ns{0};  // CLOCK_MONOTONIC; 0: no lease
  int64_t kill_grace_ns = 0;
  std::atomic<uint32_t> used{0};            // slots [0, used) may hold groups: the scan stops there
  std::atomic<int32_t> groups[kMaxGroups];  // 0: free slot
  std::atomic<int32_t> signalled[kMaxGroups];  // the group the watchdog signalled in the slot
  // The watchdog's own: when it sent SIGTERM to the slot's group (0: not yet).
  int64_t term_sent_ns[kMaxGroups];
  int32_t term_sent_to[kMaxGroups];
};
static_assert(std::atomic<int64_t>::is_always_lock_free);
static_assert(std::atomic<int32_t>::is_always_lock_free);

namespace {

int64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

std::unique_ptr<LeaseWatchdog> LeaseWatchdog::start(std::chrono::milliseconds kill_grace,
                                                    std::string* error) {
  void* mem =
      mmap(nullptr, sizeof(Page), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    *error = std::string("cannot map the lease watchdog's page: ") + strerror(errno);
    return nullptr;
  }
  Page* page = new (mem) Page();
  page->kill_grace_ns = static_cast<int64_t>(kill_grace.count()) * 1'000'000;
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    *error = std::string("cannot start the lease watchdog: ") + strerror(errno);
    munmap(mem, sizeof(Page));
    return nullptr;
  }
  if (pid == 0) {
    // The child of a threaded process: async-signal-safe calls only from here on.
    if (getppid() != parent) _exit(0);  // the server died already
    // Hold none of the server's descriptors (sockets, the WAL, job pipes).
    syscall(SYS_close_range, 3, ~0U, 0);
    prctl(PR_SET_NAME, "lease-watchdog");
    // The server's SIGTERM/SIGINT handling (a handler, or the signals blocked for a thread
    // that waits for them) is no use here: a stop signal sent to every nomad-lite process
    // ends this one too.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    const timespec tick{0, 20'000'000};
    while (true) {
      const int64_t now = monotonic_ns();
      const int64_t expires = page->expires_ns.load();
      if (getppid() != parent) {
        // The server died (SIGKILL, a crash): its attempts are lost with it, and a restarted
        // node never resumes them. Their groups go now, grandchildren included.
        for (auto& group : page->groups) {
          if (group.load() > 0) kill(-group.load(), SIGKILL);
        }
        _exit(0);
      }
      const bool expired = expires != 0 && now >= expires;
      const size_t used = page->used.load();
      for (size_t i = 0; i < used; ++i) {
        const int32_t group = page->groups[i].load();
        if (group <= 0) continue;
        if (page->term_sent_to[i] != group) {  // a new group in this slot
          page->term_sent_to[i] = group;
          page->term_sent_ns[i] = 0;
        }
        if (!expired) {
          page->term_sent_ns[i] = 0;  // renewed: a later expiry starts with SIGTERM again
          continue;
        }
        if (page->term_sent_ns[i] == 0) {
          page->signalled[i].store(group);
          kill(-group, SIGTERM);
          page->term_sent_ns[i] = now;
        } else if (now - page->term_sent_ns[i] >= page->kill_grace_ns) {
          kill(-group, SIGKILL);
        }
      }
      nanosleep(&tick, nullptr);
    }
  }
  return std::unique_ptr<LeaseWatchdog>(new LeaseWatchdog(page, pid));
}

LeaseWatchdog::~LeaseWatchdog() {
  kill(pid_, SIGKILL);
  int status;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  page_->~Page();
  munmap(page_, sizeof(Page));
}

void LeaseWatchdog::set_expiry(std::chrono::steady_clock::time_point expires) {
  const int64_t ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(expires.time_since_epoch()).count();
  page_->expires_ns.store(expires == std::chrono::steady_clock::time_point{} ? 0 : ns);
}

bool LeaseWatchdog::add(pid_t group) {
  for (size_t i = 0; i < kMaxGroups; ++i) {
    int32_t free = 0;
    if (!page_->groups[i].compare_exchange_strong(free, group)) continue;
    uint32_t used = page_->used.load();
    while (used < i + 1 && !page_->used.compare_exchange_weak(used, i + 1)) {
    }
    return true;
  }
  return false;
}

bool LeaseWatchdog::remove(pid_t group) {
  const size_t used = page_->used.load();
  for (size_t i = 0; i < used; ++i) {
    if (page_->groups[i].load() != group) continue;
    page_->groups[i].store(0);
    int32_t expected = group;
    return page_->signalled[i].compare_exchange_strong(expected, 0);
  }
  return false;
}

}  // namespace nomad::worker
