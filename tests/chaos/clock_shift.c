// A preload library that shifts one process's wall clock by an offset read from a file, so
// that a fault run can make one node's clock jump. Debian's libfaketime (0.9.10) cannot be
// used: nomad-lite links jemalloc, whose first malloc reads the clock while libfaketime is
// still initialising, and the process deadlocks. This library allocates nothing and calls no
// other library function: clocks are read with the raw system call.
//
// NOMAD_CHAOS_CLOCK_FILE  a file holding the offset in seconds ("+300", "-120"), re-read at
//                         most every 100 ms; a missing or bad file means no offset.
// NOMAD_CHAOS_CLOCK_MONOTONIC=1  shift CLOCK_MONOTONIC and CLOCK_BOOTTIME as well.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char* offset_file;
static int shift_monotonic;
static atomic_llong offset_ns;
static atomic_llong next_read_ns;

static long raw_clock(clockid_t id, struct timespec* ts) {
  return syscall(SYS_clock_gettime, id, ts);
}

__attribute__((constructor)) static void init(void) {
  offset_file = getenv("NOMAD_CHAOS_CLOCK_FILE");
  const char* m = getenv("NOMAD_CHAOS_CLOCK_MONOTONIC");
  shift_monotonic = m && m[0] == '1';
}

static long long parse_seconds(const char* s) {
  long long sign = 1, v = 0;
  while (*s == ' ') s++;
  if (*s == '+' || *s == '-') sign = (*s++ == '-') ? -1 : 1;
  while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
  return sign * v * 1000000000LL;
}

static long long current_offset(void) {
  if (!offset_file) return 0;
  struct timespec now;
  raw_clock(CLOCK_MONOTONIC, &now);
  long long now_ns = now.tv_sec * 1000000000LL + now.tv_nsec;
  if (now_ns >= atomic_load(&next_read_ns)) {
    atomic_store(&next_read_ns, now_ns + 100000000LL);
    char buf[32] = {0};
    int fd = (int)syscall(SYS_openat, AT_FDCWD, offset_file, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      long n = syscall(SYS_read, fd, buf, sizeof buf - 1);
      syscall(SYS_close, fd);
      atomic_store(&offset_ns, n > 0 ? parse_seconds(buf) : 0);
    }
  }
  return atomic_load(&offset_ns);
}

static int shifted(clockid_t id) {
  switch (id) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_COARSE:
      return 1;
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_BOOTTIME:
      return shift_monotonic;
    default:
      return 0;
  }
}

int clock_gettime(clockid_t id, struct timespec* ts) {
  long rc = raw_clock(id, ts);
  if (rc != 0 || !shifted(id)) return (int)rc;
  long long t = ts->tv_sec * 1000000000LL + ts->tv_nsec + current_offset();
  ts->tv_sec = t / 1000000000LL;
  ts->tv_nsec = t % 1000000000LL;
  if (ts->tv_nsec < 0) {
    ts->tv_nsec += 1000000000LL;
    ts->tv_sec -= 1;
  }
  return 0;
}

int gettimeofday(struct timeval* tv, void* tz) {
  (void)tz;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tv->tv_sec = ts.tv_sec;  // glibc declares tv non-null
  tv->tv_usec = ts.tv_nsec / 1000;
  return 0;
}

time_t time(time_t* out) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  if (out) *out = ts.tv_sec;
  return ts.tv_sec;
}
