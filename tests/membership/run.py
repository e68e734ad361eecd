#!/usr/bin/python3
"""Membership changes with real nomad-lite processes, driven through the CLI as an operator
would, under a steady stream of jobs.

Plain cluster (loopback, no TLS):
- 3 nodes from --peers; a stream of jobs starts (one CLI submission at a time, each with its
  own idempotency key; every job appends its key to a shared file when it runs);
- node 4 joins with --join naming the first node, node 5 with --join naming a follower (which
  forwards to the leader): each becomes a voter (cluster members -o json);
- a node is SIGKILLed and replaced by a new one (new id, port and data directory) with
  --join, then removed with cluster remove-server;
- the leader is removed: a new leader takes over, the old one stops campaigning;
- two more are removed: 3 voters again; the stream goes on throughout;
- a node restarted from its data directory keeps its stored membership (without any flag);
- refusals: --peers with --join; a --join with an id taken by another address (exit 2, the
  message says "taken"); add-server of a member (ALREADY_EXISTS);
- at the end every acknowledged job is found completed, and each ran at most as many times as
  it has attempts (a job whose node was killed may have been run again: at least once).

Secure cluster (TLS and tokens): tls init --add-node 4 makes node 4's certificate from the
existing CA; node 4 joins and becomes a voter; a node 5 presenting node 4's certificate is
refused (exit 2); cluster add-server with a read token is refused (PERMISSION_DENIED); a job
submitted at the new node completes.

  tests/membership/run.py --bin build/nomad-lite --out build/membership
Exit code 1 when a check fails; one PASS/FAIL line per check.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TESTS, "support"))
from localhost import free_ports, wait_for  # noqa: E402

failures = []


def check(name, ok, detail=""):
    print(f"{'PASS' if ok else 'FAIL'} {name}" + (f": {detail}" if detail and not ok else ""),
          flush=True)
    if not ok:
        failures.append(name)
    return ok


class Cluster:
    def __init__(self, binary, out, secure=False):
        self.binary, self.out, self.secure = binary, out, secure
        self.certs = os.path.join(out, "certs")
        self.tokens = {}
        self.procs, self.ports, self.logs, self.dirs = {}, {}, {}, {}
        self.removed = set()  # no longer members: they no longer hear of the leader
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        if secure:
            subprocess.run([binary, "tls", "init", self.certs, "--nodes", "3"], check=True,
                           stdout=subprocess.DEVNULL)
            with open(os.path.join(self.certs, "tokens")) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 2 and not parts[0].startswith("#"):
                        self.tokens.setdefault(parts[0], parts[1])

    def server_args(self, i, cert_of=None):
        args = [self.binary, "server", "--node-id", str(i), "--port", str(self.ports[i]),
                "--data-dir", self.dirs[i], "--worker-slots", "2",
                "--election-timeout", "150ms"]
        if self.secure:
            c = cert_of or i
            args += ["--tls-cert", os.path.join(self.certs, f"node-{c}.pem"),
                     "--tls-key", os.path.join(self.certs, f"node-{c}-key.pem"),
                     "--tls-ca", os.path.join(self.certs, "ca.pem"),
                     "--token-file", os.path.join(self.certs, "tokens")]
        return args

    def launch(self, i, extra, cert_of=None, data_suffix=""):
        if i not in self.ports:
            self.ports[i] = free_ports(1)[0]
        self.dirs.setdefault(i, os.path.join(self.out, f"data-{i}{data_suffix}"))
        self.logs[i] = os.path.join(self.out, f"node-{i}.log")
        log = open(self.logs[i], "ab")
        self.procs[i] = subprocess.Popen(self.server_args(i, cert_of) + extra, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         cwd=self.out)
        log.close()
        return self.procs[i]

    def bootstrap(self, ids=(1, 2, 3)):
        ports = free_ports(len(ids))
        for i, p in zip(ids, ports):
            self.ports[i] = p
        for i in ids:
            peers = ",".join(f"{j}:127.0.0.1:{self.ports[j]}" for j in ids if j != i)
            self.launch(i, ["--peers", peers])

    def addr(self, i):
        return f"127.0.0.1:{self.ports[i]}"

    def live(self):
        return [i for i, p in self.procs.items() if p.poll() is None and i not in self.removed]

    def cli(self, args, node=None, role="operator", timeout=30):
        nodes = [node] if node else self.live()
        cmd = [self.binary, "--addr", ",".join(self.addr(i) for i in nodes), "-o", "json"]
        env = dict(os.environ)
        if self.secure:
            env.update({"NOMAD_LITE_CACERT": os.path.join(self.certs, "ca.pem"),
                        "NOMAD_LITE_CLIENT_CERT": os.path.join(self.certs, "client.pem"),
                        "NOMAD_LITE_CLIENT_KEY": os.path.join(self.certs, "client-key.pem")})
            if role:
                env["NOMAD_LITE_TOKEN"] = self.tokens[role]
        try:
            r = subprocess.run(cmd + args, capture_output=True, text=True, timeout=timeout,
                               env=env)
        except subprocess.TimeoutExpired:
            return 124, "", "timed out"
        return r.returncode, r.stdout, r.stderr

    def members(self, node=None):
        rc, out, _ = self.cli(["cluster", "members"], node=node, timeout=10)
        if rc != 0:
            return None
        try:
            return json.loads(out)
        except ValueError:
            return None

    def voters(self, node=None):
        m = self.members(node)
        if not m:
            return None
        return sorted(x["id"] for x in m["members"] if x["role"] == "voter")

    def leader(self):
        m = self.members()
        return m["leader_id"] if m and m["leader_id"] else None

    def stop(self, i, sig=signal.SIGTERM):
        p = self.procs.get(i)
        if p and p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def stop_all(self):
        for i in list(self.procs):
            self.stop(i)


class JobStream:
    """Submits jobs one after another until stopped (at most `limit`, each bounded in time);
    remembers the keys whose submission was acknowledged."""

    def __init__(self, cluster, runs_file, limit=3000):
        self.cluster, self.runs_file, self.limit = cluster, runs_file, limit
        self.acked, self.failed = [], 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        n = 0
        while not self.stopping.is_set() and n < self.limit:
            n += 1
            key = f"k{n:05d}"
            rc, out, _ = self.cluster.cli(
                ["job", "submit", "--idempotency-key", key, "--",
                 "sh", "-c", f"echo {key} >> {self.runs_file}"], timeout=20)
            if rc == 0:
                try:
                    self.acked.append((key, json.loads(out)["id"]))
                except (ValueError, KeyError):
                    self.failed += 1
            else:
                self.failed += 1

    def __enter__(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        self.thread.join(60)

    def __exit__(self, *exc):
        self.stop()


def wait_voter(cluster, node_id, timeout=20):
    return wait_for(lambda: (cluster.voters() or []).count(node_id) == 1, timeout, 0.2)


def check_jobs(cluster, stream, runs_file):
    """Every acknowledged job completed; none ran more often than it has attempts."""
    acked = dict(stream.acked)

    def final_jobs():
        rc, out, _ = cluster.cli(["job", "list"], timeout=30)
        if rc != 0:
            return None
        jobs = {j["id"]: j for j in json.loads(out)["jobs"]}
        if any(jobs.get(i, {}).get("status") not in ("completed", "failed", "cancelled")
               for i in acked.values()):
            return None
        return jobs

    jobs = wait_for(final_jobs, 60, 0.5)
    if not check("every acknowledged job is final", jobs is not None):
        return
    missing = [k for k, i in acked.items() if i not in jobs]
    check("no acknowledged job is lost", not missing, f"{len(missing)} missing: {missing[:5]}")
    not_completed = [k for k, i in acked.items() if i in jobs and jobs[i]["status"] != "completed"]
    check("every acknowledged job completed", not not_completed,
          f"{not_completed[:5]} {[jobs[acked[k]] for k in not_completed[:1]]}")
    runs = {}
    with open(runs_file) as f:
        for line in f:
            runs[line.strip()] = runs.get(line.strip(), 0) + 1
    never = [k for k, i in acked.items() if runs.get(k, 0) == 0]
    check("every acknowledged job ran", not never, f"{never[:5]}")
    twice = [(k, runs[k], len(jobs[i]["attempts"])) for k, i in acked.items()
             if i in jobs and runs.get(k, 0) > len(jobs[i]["attempts"])]
    check("no job ran more often than it has attempts (no acknowledged job run twice)",
          not twice, f"{twice[:5]}")
    reruns = sum(1 for k, i in acked.items() if i in jobs and runs.get(k, 0) > 1)
    print(f"  {len(acked)} jobs acknowledged, {stream.failed} submissions refused or timed "
          f"out (retried by the operator in real life), {reruns} run again after a node loss",
          flush=True)


def plain(binary, out):
    c = Cluster(binary, os.path.join(out, "plain"))
    runs = os.path.join(c.out, "runs", "runs.txt")
    os.makedirs(os.path.dirname(runs))
    os.chmod(os.path.dirname(runs), 0o777)  # jobs of a root server run as nobody
    open(runs, "w").close()
    os.chmod(runs, 0o666)
    try:
        c.bootstrap()
        check("3 nodes from --peers elect a leader", wait_for(c.leader, 15, 0.2))
        check("cluster members lists 3 voters", c.voters() == [1, 2, 3], str(c.members()))

        # Refusals that need no cluster change.
        c.ports[9] = free_ports(1)[0]
        c.dirs[9] = os.path.join(c.out, "data-9")
        r = subprocess.run(c.server_args(9) + ["--peers", f"1:{c.addr(1)}", "--join", c.addr(1)],
                           capture_output=True, text=True, timeout=10)
        check("--peers with --join is refused", r.returncode == 2 and "--join" in r.stderr,
              r.stderr)

        with JobStream(c, runs) as stream:
            wait_for(lambda: len(stream.acked) >= 5, 20, 0.1)
            started = time.monotonic()
            c.launch(4, ["--join", c.addr(1)])
            check("node 4 joins with --join and becomes a voter", wait_voter(c, 4),
                  str(c.members()))
            joined_in = time.monotonic() - started
            leader = c.leader()
            follower = next(i for i in (1, 2, 3) if i != leader)
            c.launch(5, ["--join", c.addr(follower)])
            check(f"node 5 joins through a follower (node {follower}) and becomes a voter",
                  wait_voter(c, 5), str(c.members()))
            check("5 voters", c.voters() == [1, 2, 3, 4, 5], str(c.voters()))
            m = c.members()
            check("the leader reports every member's progress",
                  m and all(x["match_index"] is not None and x["match_index"] > 0
                            for x in m["members"]), str(m))

            # A taken id at another address is refused with a clear error.
            c.ports[40] = free_ports(1)[0]
            c.dirs[40] = os.path.join(c.out, "data-4b")
            args = c.server_args(40) + ["--join", c.addr(1)]
            args[args.index("--node-id") + 1] = "4"
            r = subprocess.run(args, capture_output=True, text=True, timeout=20)
            check("--join with a taken id exits 2 naming it",
                  r.returncode == 2 and "taken" in r.stderr, f"{r.returncode} {r.stderr}")
            rc, _, err = c.cli(["cluster", "add-server", "4", "127.0.0.1:1"])
            check("add-server of a member is refused", rc != 0 and "already a member" in err, err)

            # SIGKILL a follower; replace it by a new node on a new port and data directory.
            victim = next(i for i in (2, 3, 1) if i != c.leader())
            c.stop(victim, signal.SIGKILL)
            c.launch(6, ["--join", ",".join(c.addr(i) for i in c.live())])
            check(f"node 6 replaces SIGKILLed node {victim} and becomes a voter",
                  wait_voter(c, 6), str(c.members()))
            rc, _, err = c.cli(["cluster", "remove-server", str(victim)])
            check(f"remove-server {victim} (the dead node)", rc == 0, err)
            c.removed.add(victim)
            check("the dead node is gone from the members",
                  wait_for(lambda: victim not in (c.voters() or [victim]), 10, 0.2))

            # Remove the leader: it steps down once the change commits; another leads.
            old = c.leader()
            rc, _, err = c.cli(["cluster", "remove-server", str(old)])
            check(f"remove-server of the leader (node {old})", rc == 0, err)
            c.removed.add(old)
            new = wait_for(lambda: (lambda l: l if l and l != old else None)(c.leader()), 10,
                           0.1)
            check("a new leader takes over from the removed one", new, str(c.members()))
            c.stop(old)
            # 4 -> 3: remove one more follower.
            for _ in range(1):
                v = c.voters() or []
                target = next(i for i in v if i != c.leader())
                rc, _, err = c.cli(["cluster", "remove-server", str(target)])
                check(f"remove-server {target}", rc == 0, err)
                c.removed.add(target)
                wait_for(lambda: target not in (c.voters() or [target]), 10, 0.2)
                c.stop(target)
            check("3 voters again", len(c.voters() or []) == 3, str(c.voters()))
            wait_for(lambda: len(stream.acked) >= 20, 30, 0.2)

        # A restart uses the stored membership (no --peers, no --join).
        remaining = c.voters() or []
        restart = next(i for i in remaining if i != c.leader())
        c.stop(restart)
        c.launch(restart, [])
        check(f"node {restart} restarted without --peers or --join rejoins from what it stored",
              wait_for(lambda: (c.members(restart) or {}).get("leader_id"), 15, 0.2))
        check_jobs(c, stream, runs)
        print(f"  node 4 was a voter {joined_in:.1f} s after it started", flush=True)
    finally:
        c.stop_all()


def secure(binary, out):
    c = Cluster(binary, os.path.join(out, "secure"), secure=True)
    try:
        r = subprocess.run([binary, "tls", "init", c.certs, "--add-node", "4"],
                           capture_output=True, text=True, timeout=30)
        check("tls init --add-node 4 makes node-4.pem from the existing CA",
              r.returncode == 0 and os.path.exists(os.path.join(c.certs, "node-4.pem")),
              r.stderr)
        c.bootstrap()
        check("secure cluster elects a leader", wait_for(c.leader, 15, 0.2))
        c.launch(4, ["--join", c.addr(1)])
        check("node 4 joins with TLS and tokens and becomes a voter", wait_voter(c, 4),
              str(c.members()))
        c.ports[5] = free_ports(1)[0]
        c.dirs[5] = os.path.join(c.out, "data-5")
        r = subprocess.run(c.server_args(5, cert_of=4) + ["--join", c.addr(2)],
                           capture_output=True, text=True, timeout=20)
        check("a node presenting another node's certificate is refused",
              r.returncode == 2 and "certificate" in r.stderr, f"{r.returncode} {r.stderr}")
        rc, _, err = c.cli(["cluster", "add-server", "7", "127.0.0.1:1"], role="read")
        check("add-server with a read token is refused", rc != 0 and "PERMISSION_DENIED" in err,
              err)
        rc, out_, err = c.cli(["job", "submit", "--wait", "--", "echo", "hello"], node=4,
                              role="submit")
        check("a job submitted at the new node completes",
              rc == 0 and json.loads(out_ or "{}").get("status") == "completed", err)
        check("the members are the 4 voters", c.voters() == [1, 2, 3, 4], str(c.voters()))
    finally:
        c.stop_all()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default="build/nomad-lite")
    parser.add_argument("--out", default="build/membership")
    parser.add_argument("--only", choices=["plain", "secure"])
    a = parser.parse_args()
    binary = os.path.abspath(a.bin)
    started = time.monotonic()
    if a.only in (None, "plain"):
        plain(binary, os.path.abspath(a.out))
    if a.only in (None, "secure"):
        secure(binary, os.path.abspath(a.out))
    print(f"{'FAILED' if failures else 'passed'} in {time.monotonic() - started:.0f} s"
          + (f": {', '.join(failures)}" if failures else ""), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
