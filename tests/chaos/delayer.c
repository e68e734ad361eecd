// Delays the packets an iptables NFQUEUE rule hands it, for the fault suite's `delay`
// nemesis (the kernel it runs on has no sch_netem). Runs inside a node's network namespace:
//
//   delayer --queue N --delay-ms D [--jitter-ms J] [--seed S] [--max-held M]
//
// Each packet is held for D ms plus a draw from [-J, +J] ms and then accepted. A packet is
// never released before the one queued ahead of it, so the held packets form one FIFO and a
// delay never reorders a TCP stream. Beyond M packets held (default 4096) a packet is dropped
// at once, as a full link would. Prints "ready" once bound to the queue; on SIGTERM or SIGINT
// it accepts every packet still held, prints its counts and exits 0.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define KERNEL_QUEUE_LEN 16384   // above max_held, so that this program decides what drops
#define SOCKET_BUFFER (8 << 20)  // room for a burst of queued packets' metadata

struct held {
  uint32_t id;
  int64_t due_ns;
};

static struct {
  struct held* ring;
  size_t cap, head, count;
  int64_t delay_ns, jitter_ns, last_due_ns;
  uint64_t rng;
  unsigned long long delayed, dropped;
  struct nfq_q_handle* queue;
} st;

static volatile sig_atomic_t stopping;

static void on_signal(int sig) {
  (void)sig;
  stopping = 1;
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint64_t next_random(void) {  // xorshift64*: a seeded draw, the same for one seed
  st.rng ^= st.rng >> 12;
  st.rng ^= st.rng << 25;
  st.rng ^= st.rng >> 27;
  return st.rng * 2685821657736338717ULL;
}

static int64_t draw_delay(void) {
  if (st.jitter_ns <= 0) return st.delay_ns;
  int64_t span = 2 * st.jitter_ns + 1;
  int64_t d = st.delay_ns - st.jitter_ns + (int64_t)(next_random() % (uint64_t)span);
  return d < 0 ? 0 : d;
}

static void verdict(uint32_t id, uint32_t v) {
  if (nfq_set_verdict(st.queue, id, v, 0, NULL) < 0) {
    fprintf(stderr, "delayer: verdict for packet %u failed: %s\n", id, strerror(errno));
  }
}

static int on_packet(struct nfq_q_handle* q, struct nfgenmsg* msg, struct nfq_data* nfa,
                     void* data) {
  (void)q;
  (void)msg;
  (void)data;
  struct nfqnl_msg_packet_hdr* ph = nfq_get_msg_packet_hdr(nfa);
  if (!ph) return 0;
  uint32_t id = ntohl(ph->packet_id);
  if (st.count == st.cap) {
    verdict(id, NF_DROP);
    st.dropped++;
    return 0;
  }
  int64_t due = now_ns() + draw_delay();
  if (due < st.last_due_ns) due = st.last_due_ns;  // FIFO: never ahead of an earlier packet
  st.last_due_ns = due;
  st.ring[(st.head + st.count) % st.cap] = (struct held){id, due};
  st.count++;
  return 0;
}

// Accepts every held packet due by `until` (all of them when until is INT64_MAX).
static void release(int64_t until) {
  while (st.count > 0 && st.ring[st.head].due_ns <= until) {
    verdict(st.ring[st.head].id, NF_ACCEPT);
    st.delayed++;
    st.head = (st.head + 1) % st.cap;
    st.count--;
  }
}

static int poll_timeout_ms(void) {
  if (st.count == 0) return 1000;  // wake now and then to notice a stop request
  int64_t wait = st.ring[st.head].due_ns - now_ns();
  if (wait <= 0) return 0;
  return (int)((wait + 999999) / 1000000);
}

static void usage(void) {
  fprintf(stderr,
          "usage: delayer --queue N --delay-ms D [--jitter-ms J] [--seed S] "
          "[--max-held M]\n");
  exit(2);
}

static long long number_arg(const char* name, const char* value, long long lo, long long hi) {
  char* end;
  errno = 0;
  long long v = strtoll(value, &end, 10);
  if (errno || *end || end == value || v < lo || v > hi) {
    fprintf(stderr, "delayer: %s %s: give a whole number from %lld to %lld\n", name, value, lo, hi);
    exit(2);
  }
  return v;
}

int main(int argc, char** argv) {
  long long queue_num = -1, delay_ms = -1, jitter_ms = 0, seed = 1, max_held = 4096;
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc) usage();
    const char *name = argv[i], *value = argv[++i];
    if (!strcmp(name, "--queue")) {
      queue_num = number_arg(name, value, 0, 65535);
    } else if (!strcmp(name, "--delay-ms")) {
      delay_ms = number_arg(name, value, 0, 60000);
    } else if (!strcmp(name, "--jitter-ms")) {
      jitter_ms = number_arg(name, value, 0, 60000);
    } else if (!strcmp(name, "--seed")) {
      seed = number_arg(name, value, 0, 1LL << 62);
    } else if (!strcmp(name, "--max-held")) {
      max_held = number_arg(name, value, 1, KERNEL_QUEUE_LEN);
    } else {
      usage();
    }
  }
  if (queue_num < 0 || delay_ms < 0) usage();

  st.cap = (size_t)max_held;
  st.ring = calloc(st.cap, sizeof *st.ring);
  st.delay_ns = delay_ms * 1000000LL;
  st.jitter_ns = jitter_ms * 1000000LL;
  st.rng = (uint64_t)seed * 0x9E3779B97F4A7C15ULL + 1;
  if (!st.ring) {
    fprintf(stderr, "delayer: out of memory\n");
    return 1;
  }

  struct sigaction sa = {0};
  sa.sa_handler = on_signal;  // no SA_RESTART: poll() returns EINTR and the loop ends
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  struct nfq_handle* h = nfq_open();
  if (!h) {
    fprintf(stderr, "delayer: nfq_open failed (%s); needs root and nfnetlink_queue\n",
            strerror(errno));
    return 1;
  }
  st.queue = nfq_create_queue(h, (uint16_t)queue_num, on_packet, NULL);
  if (!st.queue) {
    fprintf(stderr, "delayer: cannot bind queue %lld (%s); is another program bound to it?\n",
            queue_num, strerror(errno));
    nfq_close(h);
    return 1;
  }
  // Only the metadata: the verdict carries no payload, so the packet goes on unchanged.
  if (nfq_set_mode(st.queue, NFQNL_COPY_META, 0) < 0 ||
      nfq_set_queue_maxlen(st.queue, KERNEL_QUEUE_LEN) < 0) {
    fprintf(stderr, "delayer: cannot configure queue %lld: %s\n", queue_num, strerror(errno));
    nfq_destroy_queue(st.queue);
    nfq_close(h);
    return 1;
  }
  int fd = nfq_fd(h);
  int size = SOCKET_BUFFER;  // FORCE passes net.core.rmem_max (as root); else the capped size
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  int on = 1;  // an overrun loses those packets (the kernel drops them); keep reading
  setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &on, sizeof on);

  printf("ready\n");
  fflush(stdout);

  char buf[65536] __attribute__((aligned));
  while (!stopping) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n = poll(&p, 1, poll_timeout_ms());
    if (n < 0 && errno != EINTR) {
      fprintf(stderr, "delayer: poll: %s\n", strerror(errno));
      break;
    }
    if (n > 0 && (p.revents & POLLIN)) {
      // Drain what is there without blocking, then give the verdicts that fell due.
      for (;;) {
        ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r < 0) {
          if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ENOBUFS) {
            fprintf(stderr, "delayer: recv: %s\n", strerror(errno));
            stopping = 1;
          }
          break;
        }
        nfq_handle_packet(h, buf, (int)r);
      }
    }
    release(now_ns());
  }
  release(INT64_MAX);  // a stopped delay lets what it holds through at once
  printf("delayed %llu dropped %llu\n", st.delayed, st.dropped);
  fflush(stdout);
  nfq_destroy_queue(st.queue);
  nfq_close(h);
  free(st.ring);
  return 0;
}
