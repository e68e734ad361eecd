"""The clients of a fault run: a paced stream of jobs, each submitted with its own idempotency
key and retried (rotating over the nodes) until acknowledged; a poller that records every
node's (term, leader, commit index) every 100 ms; a sampler of each node's RSS, fds, threads.

Each job appends to jobs/<token> a line at start, every 100 ms and at the end, with its job id,
attempt and the time from /proc/uptime (a shell builtin read, no fork; CLOCK_BOOTTIME, the same
clock in every network namespace of the host, 10 ms resolution). Times of the clients are
time.monotonic()."""
import random
import threading
import time

from cluster import http_json

# A client waits this long for an answer, then sends the submission again (same idempotency
# key) to the leader last seen: a paused or cut-off node cannot answer at all, and a client
# that waited longer on it would measure its own patience rather than the cluster.
SUBMIT_TIMEOUT = 0.5


def job_spec(seed, n, run_id, jobs_dir, max_seconds=10):
    """The n-th job of a seed: how long it runs (in 100 ms steps), its exit code, its output."""
    rng = random.Random(f"{seed}-{n}")
    r = rng.random()
    if r < 0.45:
        steps = rng.randint(0, 5)
    elif r < 0.85:
        steps = rng.randint(5, 20)
    else:
        steps = rng.randint(20, max_seconds * 10)
    code = rng.choice((3, 7)) if rng.random() < 0.15 else 0
    token = f"s{seed}j{n}"
    out = f"out-{token}"
    f = f"{jobs_dir}/{token}"
    cmd = (f'f={f}; a="$NOMAD_LITE_JOB_ID $NOMAD_LITE_ATTEMPT"; read t x </proc/uptime; '
           f'echo "start $a $t $$" >>$f; i=0; while [ $i -lt {steps} ]; do sleep 0.1; '
           f'read t x </proc/uptime; echo "hb $a $t" >>$f; i=$((i+1)); done; '
           f'read t x </proc/uptime; echo "end $a $t {code}" >>$f; echo {out}; exit {code}')
    return {"n": n, "key": f"chaos-{run_id}-{n}", "token": token, "steps": steps,
            "exit_code": code, "output": out + "\n", "command": cmd}


class JobStream:
    def __init__(self, cluster, jobs_dir, seed, run_id, rate, max_jobs, seconds, clients=6,
                 give_up_after=30.0, max_job_seconds=10, leader_hint=None):
        self.c = cluster
        self.jobs_dir, self.seed, self.run_id = jobs_dir, seed, run_id
        self.rate, self.max_jobs, self.seconds = rate, max_jobs, seconds
        self.clients, self.give_up_after = clients, give_up_after
        self.max_job_seconds = max_job_seconds
        self.leader_hint = leader_hint or (lambda: None)
        self.specs, self.submissions = [], []
        self.lock = threading.Lock()
        self.next_n = 0
        self.threads = []
        self.start_t = self.end_t = None
        self.stop_flag = threading.Event()

    def start(self):
        self.start_t = time.monotonic()
        self.end_t = self.start_t + self.seconds
        for k in range(self.clients):
            t = threading.Thread(target=self._client, args=(k,), daemon=True)
            t.start()
            self.threads.append(t)

    def _take(self):
        with self.lock:
            n = self.next_n
            due = self.start_t + n / self.rate
            if n >= self.max_jobs or due >= self.end_t or self.stop_flag.is_set():
                return None, None
            self.next_n += 1
            return n, due

    def _client(self, k):
        order = list(range(1, self.c.n + 1))
        node_ix = k % len(order)
        while True:
            n, due = self._take()
            if n is None:
                return
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            spec = job_spec(self.seed, n, self.run_id, self.jobs_dir, self.max_job_seconds)
            with self.lock:
                self.specs.append({k2: v for k2, v in spec.items() if k2 != "command"})
            give_up = max(self.end_t, time.monotonic()) + self.give_up_after
            body = {"command": spec["command"], "idempotency_key": spec["key"]}
            while time.monotonic() < give_up and not self.stop_flag.is_set():
                node = order[node_ix]
                t0 = time.monotonic()
                rec = {"n": n, "key": spec["key"], "token": spec["token"], "node": node, "t0": t0}
                try:
                    code, payload = http_json(self.c.http(node) + "/api/jobs", body,
                                              timeout=SUBMIT_TIMEOUT)
                    rec["code"] = code
                    if code == 201 and payload and payload.get("id"):
                        rec["job_id"] = payload["id"]
                    else:
                        rec["error"] = (payload or {}).get("error", f"HTTP {code}")
                except OSError as e:
                    rec["error"] = str(e)[:200]
                rec["t1"] = time.monotonic()
                with self.lock:
                    self.submissions.append(rec)
                if "job_id" in rec:
                    break
                # Next: the leader the poller saw last, unless it just failed; else the next node.
                hint = self.leader_hint()
                if hint and hint != node:
                    node_ix = order.index(hint)
                else:
                    node_ix = (node_ix + 1) % len(order)
                if rec.get("code") in (400, 413):
                    break  # the request itself is wrong; retrying cannot help
                time.sleep(0.05)

    def running(self):
        return any(t.is_alive() for t in self.threads)

    def join(self, timeout):
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self.stop_flag.set()


class Poller:
    """Records each node's view (role, leader, term, commit index) every interval."""

    def __init__(self, cluster, interval=0.1):
        self.c, self.interval = cluster, interval
        self.observations = []
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.threads = [threading.Thread(target=self._poll, args=(i,), daemon=True)
                        for i in range(1, cluster.n + 1)]

    def start(self):
        for t in self.threads:
            t.start()

    def _poll(self, i):
        while not self.stop_flag.is_set():
            t0 = time.monotonic()
            inc = self.c.incarnation[i]
            try:
                s = self.c.status(i, timeout=0.5)
            except OSError:
                s = None
            if s:
                rec = {"t": time.monotonic(), "node": i, "inc": inc, "role": s.get("role"),
                       "leader_id": s.get("leader_id"), "term": s.get("term"),
                       "commit_index": s.get("commit_index")}
                with self.lock:
                    self.observations.append(rec)
            self.stop_flag.wait(max(0.0, self.interval - (time.monotonic() - t0)))

    def latest_leader(self):
        with self.lock:
            obs = list(self.observations[-4 * self.c.n:])
        leaders = [o for o in obs if o["role"] == "leader"]
        return max(leaders, key=lambda o: o["term"])["node"] if leaders else None

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(2)


class Sampler:
    """RSS, open fds and threads of every node every interval seconds."""

    def __init__(self, cluster, interval):
        self.c, self.interval = cluster, interval
        self.samples = []
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()

    def _run(self):
        while not self.stop_flag.wait(self.interval):
            for i in range(1, self.c.n + 1):
                s = self.c.sample(i)
                if s:
                    s.update({"t": time.monotonic(), "node": i, "inc": self.c.incarnation[i]})
                    self.samples.append(s)

    def stop(self):
        self.stop_flag.set()
        self.thread.join(2)
