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
- cluster transfer-leader --to a voter that joined: it leads; that leader (no --peers on its
  command line) stopped with SIGTERM hands leadership on first, and rejoins when restarted;
  transfer-leader without --to moves leadership elsewhere; the stream goes on after each;
- three `sleep 3` jobs are placed on one node (the others made ineligible meanwhile); node
  drain --deadline 1s shows it draining, ends them with reason drained, they run again on other
  nodes and complete; no job acknowledged after the drain began is placed there; cluster
  status and GET /api/cluster report it drained with no running job; eligibility on ends it;
- operator snapshot save while the stream and two `sleep 4` jobs run; inspect checks the file;
- a node restarted from its data directory keeps its stored membership (without any flag);
- refusals: --peers with --join; a --join with an id taken by another address (exit 2, the
  message says "taken"); add-server of a member (ALREADY_EXISTS);
- at the end every acknowledged job is found completed, and each ran at most as many times as
  it has attempts (a job whose node was killed may have been run again: at least once);
- every node stopped, a new 3-node cluster (new ports, empty data directories) is started with
  --restore of the file: every job acknowledged before the save is there and completes; those
  completed before the save are completed with the same attempts and output and do not run
  again; the two running at the save have their attempt ended lost and run once more.

Secure cluster (TLS and tokens): tls init --add-node 4 makes node 4's certificate from the
existing CA; node 4 joins and becomes a voter; a node 5 presenting node 4's certificate is
refused (exit 2); cluster add-server with a read token is refused (PERMISSION_DENIED); a job
submitted at the new node completes; transfer-leader with a read token is refused, with an
operator token it moves leadership to node 4.

Disaster recovery: a 3-node cluster loses two nodes for good (SIGKILL, data deleted); the
survivor restarted with --force-new-cluster and only its --node-id and --data-dir (no --peers)
leads alone with every committed job; two fresh nodes --join it and become voters; jobs
submitted afterwards complete; restarted with the flag still given, it stays one of the three.

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
from checks import check, failures, finish  # noqa: E402
from job_runs import RunsFile  # noqa: E402
from local_cluster import LocalCluster  # noqa: E402
from localhost import wait_for  # noqa: E402


class Cluster(LocalCluster):
    """Servers that join and leave; the leader and voters as `cluster members` tells."""

    def __init__(self, binary, out, secure=False, slots=2, dashboards=False, extra=()):
        super().__init__(binary, out, secure, dashboards=dashboards,
                         server_args=["--worker-slots", str(slots), "--election-timeout", "150ms"]
                         + list(extra))

    def members(self, node=None):
        return self.cli_json(["cluster", "members"], node=node, timeout=10)

    def voters(self, node=None):
        m = self.members(node)
        if not m:
            return None
        return sorted(x["id"] for x in m["members"] if x["role"] == "voter")

    def leader(self):
        m = self.members()
        return m["leader_id"] if m and m["leader_id"] else None

    def get(self, path, node=None):
        """GET on a live node's dashboard (plain clusters only): the decoded JSON, or None."""
        code, body = self.rest("GET", path, node=node or self.live()[0])
        return body if code == 200 else None

    def submit_keyed(self, key, command):
        """Submits `sh -c command` with idempotency key `key`: its id, or None."""
        return self.submit(command, ["--idempotency-key", key], timeout=20)


class JobStream:
    """Submits jobs one after another until stopped (at most `limit`, each bounded in time);
    remembers the keys whose submission was acknowledged."""

    def __init__(self, cluster, runs, limit=3000):
        self.cluster, self.runs, self.limit = cluster, runs, limit
        self.acked, self.failed = [], 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        n = 0
        while not self.stopping.is_set() and n < self.limit:
            n += 1
            key = f"k{n:05d}"
            job_id = self.cluster.submit_keyed(key, script(key, self.runs))
            if job_id:
                self.acked.append((key, job_id))
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


def script(key, runs, sleep=0):
    """A job that notes each run of it in `runs` (a RunsFile) and prints out-KEY."""
    return runs.command(key, (f"sleep {sleep}; " if sleep else "") + f"echo out-{key}")


def wait_voter(cluster, node_id, timeout=20):
    return wait_for(lambda: (cluster.voters() or []).count(node_id) == 1, timeout, 0.2)


def check_jobs(cluster, stream, runs_file):
    """Every acknowledged job completed; none ran more often than it has attempts."""
    acked = dict(stream.acked)
    jobs = cluster.wait_final(acked.values(), 60)
    stuck = []
    if jobs is None:
        now = cluster.jobs() or {}
        stuck = [now.get(i, {"id": i, "status": "missing"}) for i in acked.values()
                 if now.get(i, {}).get("status") not in ("completed", "failed", "cancelled")]
    if not check("every acknowledged job is final", jobs is not None, f"{stuck[:3]}"):
        return
    missing = [k for k, i in acked.items() if i not in jobs]
    check("no acknowledged job is lost", not missing, f"{len(missing)} missing: {missing[:5]}")
    not_completed = [k for k, i in acked.items() if i in jobs and jobs[i]["status"] != "completed"]
    check("every acknowledged job completed", not not_completed,
          f"{not_completed[:5]} {[jobs[acked[k]] for k in not_completed[:1]]}")
    runs = runs_file.counts()
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


def leader_other_than(c, old):
    return (lambda l: l if l and l != old else None)(c.leader())


def stream_goes_on(stream, what, more=3):
    n = len(stream.acked)
    check(f"the job stream goes on {what}",
          wait_for(lambda: len(stream.acked) >= n + more, 30, 0.1), f"{len(stream.acked)}")


def transfer_leadership(c, stream):
    """transfer-leader --to a joined voter, a SIGTERM hand-off by that joined leader (it has no
    --peers), then transfer-leader without --to."""
    leader = c.leader()
    voters = c.voters() or []
    joined = [i for i in voters if i >= 4 and i != leader]
    target = (joined or [i for i in voters if i != leader])[0]
    rc, out, err = c.cli(["cluster", "transfer-leader", "--to", str(target)])
    check(f"cluster transfer-leader --to {target} moves leadership from node {leader} there",
          rc == 0 and wait_for(lambda: c.leader() == target, 10, 0.1), f"{rc} {out} {err}")
    stream_goes_on(stream, "after transfer-leader --to")

    # A leader that joined (no --peers on its command line) hands leadership on at SIGTERM.
    stopped_at = time.monotonic()
    c.stop(target)
    successor = wait_for(lambda: leader_other_than(c, target), 10, 0.05)
    took = time.monotonic() - stopped_at
    with open(c.logs[target], errors="replace") as f:
        handed = "handed leadership to node" in f.read()
    check(f"node {target} (joined, no --peers), stopped with SIGTERM while leading, hands "
          f"leadership on first", successor and handed, f"successor {successor}, log: {handed}")
    print(f"  a successor of node {target} was known {took:.2f} s after its SIGTERM", flush=True)
    c.launch(target, [])
    check(f"node {target} restarted from its data directory rejoins",
          wait_for(lambda: (c.members(target) or {}).get("leader_id"), 15, 0.2))
    stream_goes_on(stream, "while the leader was stopped and restarted")

    before = c.leader()
    rc, out, err = c.cli(["cluster", "transfer-leader"])
    moved = rc == 0 and wait_for(lambda: leader_other_than(c, before), 10, 0.1)
    check(f"cluster transfer-leader without --to moves leadership off node {before}", moved,
          f"{rc} {out} {err}")
    stream_goes_on(stream, "after transfer-leader without --to")


def job_on(c, job_id):
    """The job with its output (REST GET /api/jobs/ID on any live node), or None."""
    return c.get(f"/api/jobs/{job_id}")


def submit_long_jobs(c, stream, runs, prefix, count, sleep):
    """`count` jobs keyed prefix1.. that each sleep `sleep` s, counted in the stream's
    acknowledged jobs; returns [(key, job id)] of those acknowledged."""
    long_jobs = []
    for n in range(1, count + 1):
        key = f"{prefix}{n}"
        job_id = c.submit_keyed(key, script(key, runs, sleep=sleep))
        if check(f"long job {key} is acknowledged", job_id):
            long_jobs.append((key, job_id))
            stream.acked.append((key, job_id))
    return long_jobs


def drain(c, stream, runs):
    """Long jobs are placed on one node; node drain --deadline 1s ends them as drained, they run
    again elsewhere; the node gets no new job and is reported drained once empty."""
    voters = c.voters() or []
    x = next(i for i in voters if i != c.leader())
    others = [i for i in voters if i != x]
    # Only node x takes jobs while the long ones are placed.
    for o in others:
        rc, _, err = c.cli(["node", "eligibility", str(o), "off"])
        check(f"node eligibility {o} off", rc == 0, err)
    long_jobs = submit_long_jobs(c, stream, runs, "drain", 3, sleep=3)

    def running_on_x():
        jobs = c.jobs() or {}
        return all(jobs.get(i, {}).get("status") == "running" and
                   jobs[i].get("node_id") == x for _, i in long_jobs)
    check(f"the long jobs run on node {x}", wait_for(running_on_x, 15, 0.1), str(c.jobs()))
    for o in others:
        rc, _, err = c.cli(["node", "eligibility", str(o), "on"])
        check(f"node eligibility {o} on", rc == 0, err)

    # In a table it waits, printing progress, until the node is empty (-o json returns at once).
    cmd, env = c.cli_command(["node", "drain", str(x), "--deadline", "1s"], output="table")
    out_path = os.path.join(c.out, "drain.out")
    with open(out_path, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)

    def state_of_x():
        status = c.cli(["cluster", "status"], timeout=10)
        try:
            nodes = json.loads(status[1])["nodes"] if status[0] == 0 else []
        except ValueError:
            return None
        return next((n for n in nodes if n["id"] == x), None)
    draining = wait_for(lambda: (state_of_x() or {}).get("scheduling", {}).get("draining"), 10,
                        0.05)
    check(f"node {x} is shown draining", draining)
    began = len(stream.acked)
    started = time.monotonic()
    try:
        rc = proc.wait(40)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    took = time.monotonic() - started
    with open(out_path) as f:
        said = f.read()
    check(f"node drain {x} --deadline 1s exits 0 once the node is empty",
          rc == 0 and f"node {x} is drained" in said, f"{rc} {said}")
    print(f"  node {x} drained in {took:.1f} s", flush=True)
    node = state_of_x() or {}
    check(f"cluster status reports node {x} drained with no running job",
          node.get("scheduling", {}).get("state") == "drained" and node.get("running_jobs") == 0,
          str(node))
    rest = c.get("/api/cluster") or {}
    node = next((n for n in rest.get("nodes", []) if n.get("id") == x), {})
    check(f"GET /api/cluster reports node {x} drained",
          node.get("scheduling", {}).get("state") == "drained", str(rest))

    def long_jobs_done():
        jobs = [job_on(c, i) for _, i in long_jobs]
        return jobs if all(j and j["status"] == "completed" for j in jobs) else None
    done = wait_for(long_jobs_done, 30, 0.2)
    check("the drained long jobs complete", done, str([job_on(c, i) for _, i in long_jobs]))
    for (key, _), job in zip(long_jobs, done or []):
        first, last = job["attempts"][0], job["attempts"][-1]
        check(f"{key}: its attempt on node {x} ended with reason drained; it ran again on "
              f"another node and completed with its output",
              first["node_id"] == x and first["reason"] == "drained" and last["node_id"] != x
              and last["status"] == "completed" and job["stdout_tail"] == f"out-{key}\n",
              str(job["attempts"]))

    # Jobs acknowledged once the drain had begun all went elsewhere.
    wait_for(lambda: len(stream.acked) >= began + 3, 20, 0.1)
    later = stream.acked[began:]

    def final():
        jobs = c.jobs()
        if jobs is None or any(jobs.get(i, {}).get("status") != "completed" for _, i in later):
            return None
        return jobs
    jobs = wait_for(final, 30, 0.2) or {}
    placed_on_x = [k for k, i in later
                   if any(a["node_id"] == x for a in jobs.get(i, {}).get("attempts", []))]
    check(f"no job acknowledged after the drain began was placed on node {x}",
          jobs and later and not placed_on_x, f"{len(later)} jobs, on {x}: {placed_on_x}")
    rc, _, err = c.cli(["node", "eligibility", str(x), "on"])
    check(f"node eligibility {x} on ends the drained state",
          rc == 0 and wait_for(lambda: (state_of_x() or {}).get("scheduling", {}).get("state")
                               == "eligible", 10, 0.1), err)


def save_while_jobs_flow(c, stream, runs, file):
    """operator snapshot save while the stream runs and two long jobs run; returns what was
    acknowledged before the save and the jobs as listed just before it."""
    long_jobs = submit_long_jobs(c, stream, runs, "atsave", 2, sleep=4)

    def long_running():
        jobs = c.jobs() or {}
        return all(jobs.get(i, {}).get("status") == "running" for _, i in long_jobs)
    check("the long jobs run", wait_for(long_running, 15, 0.1))
    acked = list(stream.acked)
    before = wait_for(c.jobs, 10, 0.2) or {}
    rc, out, err = c.cli(["operator", "snapshot", "save", file])
    saved = check("operator snapshot save while jobs flow", rc == 0 and os.path.exists(file),
                  f"{rc} {out} {err}")
    rc, out, err = c.cli(["operator", "snapshot", "inspect", file])
    try:
        info = json.loads(out)
    except ValueError:
        info = {}
    check("operator snapshot inspect: checksum OK, every job listed before the save counted",
          saved and rc == 0 and info.get("checksum_ok") and info.get("job_count", 0) >= len(before),
          f"{rc} {out} {err}")
    stream_goes_on(stream, "after the save")
    return acked, before, long_jobs


def restore(binary, out, file, runs, acked, before, long_jobs):
    """A new 3-node cluster (new ports, empty data directories) restored from the file."""
    os.rename(runs.path, runs.path + ".before-restore")
    runs = RunsFile(runs.path)
    r = Cluster(binary, os.path.join(out, "restored"), dashboards=True,
                extra=["--worker-timeout", "3s", "--kill-grace", "1s"])
    try:
        r.bootstrap(extra=["--restore", file])
        check("a new 3-node cluster restored from the snapshot elects a leader",
              wait_for(r.leader, 15, 0.2))

        def final():
            jobs = r.jobs()
            if jobs is None or any(jobs.get(i, {}).get("status") in (None, "pending", "running")
                                   for _, i in acked):
                return None
            return jobs
        jobs = wait_for(final, 40, 0.3) or r.jobs() or {}
        missing = [k for k, i in acked if i not in jobs]
        check("every job acknowledged before the save is in the restored cluster", not missing,
              f"{len(missing)} of {len(acked)} missing: {missing[:5]}")
        not_completed = [k for k, i in acked if jobs.get(i, {}).get("status") != "completed"]
        check("... and completed there", not not_completed, f"{not_completed[:5]}")
        new_runs = runs.counts()
        changed = []
        for key, job_id in acked:
            was = before.get(job_id)
            if not was or was["status"] != "completed":
                continue
            now = job_on(r, job_id) or {}
            if (now.get("status") != "completed" or len(now.get("attempts", [])) !=
                    len(was["attempts"]) or now.get("stdout_tail") != f"out-{key}\n" or
                    new_runs.get(key)):
                changed.append((key, now.get("status"), len(now.get("attempts", [])),
                                len(was["attempts"]), now.get("stdout_tail"), new_runs.get(key)))
        completed_before = sum(1 for _, i in acked if before.get(i, {}).get("status")
                               == "completed")
        check(f"the {completed_before} jobs completed before the save are completed, with their "
              f"attempts and output, and did not run again", completed_before and not changed,
              f"{changed[:5]}")
        for key, job_id in long_jobs:
            job = job_on(r, job_id) or {}
            attempts = job.get("attempts", [])
            check(f"{key}, running at the save: its attempt became lost and the job ran again "
                  f"in the restored cluster",
                  len(attempts) >= 2 and attempts[0]["reason"] == "lost" and
                  "snapshot" in (attempts[0]["error"] or "") and job["status"] == "completed"
                  and new_runs.get(key) == 1 and job["stdout_tail"] == f"out-{key}\n",
                  f"{job} runs {new_runs.get(key)}")
        print(f"  restored: {len(acked)} jobs acknowledged before the save, {completed_before} "
              f"of them completed before it", flush=True)
    finally:
        r.stop_all()


def plain(binary, out):
    c = Cluster(binary, os.path.join(out, "plain"), slots=4, dashboards=True,
                extra=["--worker-timeout", "3s", "--kill-grace", "1s"])
    runs = RunsFile(os.path.join(c.out, "runs", "runs.txt"))
    backup = os.path.join(out, "backup.snap")
    try:
        c.bootstrap()
        check("3 nodes from --peers elect a leader", wait_for(c.leader, 15, 0.2))
        check("cluster members lists 3 voters", c.voters() == [1, 2, 3], str(c.members()))

        # Refusals that need no cluster change.
        c.prepare(9)
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
            c.prepare(40, data="data-4b")
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

            transfer_leadership(c, stream)
            drain(c, stream, runs)
            acked, before, long_jobs = save_while_jobs_flow(c, stream, runs, backup)

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
    restore(binary, out, backup, runs, acked, before, long_jobs)


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
        c.prepare(5)
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

        rc, _, err = c.cli(["cluster", "transfer-leader"], role="read")
        check("transfer-leader with a read token is refused",
              rc != 0 and "PERMISSION_DENIED" in err, err)
        leader = c.leader()
        target = 4 if leader != 4 else 1
        rc, out_, err = c.cli(["cluster", "transfer-leader", "--to", str(target)])
        check(f"transfer-leader --to {target} with an operator token moves leadership there",
              rc == 0 and wait_for(lambda: c.leader() == target, 10, 0.1), f"{rc} {out_} {err}")
        rc, out_, err = c.cli(["job", "submit", "--wait", "--", "echo", "after"], role="submit")
        check("a job submitted after the transfer completes",
              rc == 0 and json.loads(out_ or "{}").get("status") == "completed", err)
    finally:
        c.stop_all()


def recovery(binary, out):
    """A 3-node cluster loses two nodes for good; the survivor is re-founded with
    --force-new-cluster and nothing but its --node-id and --data-dir (no --peers), keeps its
    committed jobs, and grows back to 3 voters with --join."""
    c = Cluster(binary, os.path.join(out, "recovery"))
    runs = RunsFile(os.path.join(c.out, "runs", "runs.txt"))

    def completed(keys_ids):
        def done():
            jobs = c.jobs()
            if jobs is None or any(jobs.get(i, {}).get("status") != "completed"
                                   for _, i in keys_ids):
                return None
            return jobs
        return wait_for(done, 30, 0.2)

    def submit_some(prefix, n):
        out_ = []
        for k in range(n):
            key = f"{prefix}{k}"
            job_id = c.submit_keyed(key, script(key, runs))
            if check(f"job {key} is acknowledged", job_id):
                out_.append((key, job_id))
        return out_
    try:
        c.bootstrap()
        check("3 nodes from --peers elect a leader", wait_for(c.leader, 15, 0.2))
        kept = submit_some("kept", 5)
        check("the first jobs complete", completed(kept))
        survivor = 1
        for i in (2, 3):
            c.stop(i, signal.SIGKILL)
            shutil.rmtree(c.dirs[i])  # gone for good
        c.stop(survivor)
        c.launch(survivor, ["--force-new-cluster"])  # no --peers
        check("the survivor, started with --force-new-cluster and no --peers, leads alone",
              wait_for(lambda: c.leader() == survivor and c.voters() == [survivor], 15, 0.1),
              f"{c.members()} {open(c.logs[survivor], errors='replace').read()[-2000:]}")
        jobs = c.jobs() or {}
        check("it keeps every committed job, completed",
              all(jobs.get(i, {}).get("status") == "completed" for _, i in kept), str(jobs))
        check("... with its output",
              all((c.job(i) or {}).get("stdout_tail") == f"out-{k}\n" for k, i in kept))
        c.launch(4, ["--join", c.addr(survivor)])
        check("a fresh node 4 joins the re-founded cluster and becomes a voter",
              wait_voter(c, 4), str(c.members()))
        c.launch(5, ["--join", c.addr(4)])
        check("a fresh node 5 joins through node 4 and becomes a voter", wait_voter(c, 5),
              str(c.members()))
        check("3 voters again", c.voters() == [1, 4, 5], str(c.voters()))
        after = submit_some("after", 6)
        jobs = completed(after)
        check("jobs submitted after the growth complete", jobs)
        # Restarted with the flag still on its command line, the survivor stays a member of
        # the grown cluster (the data directory remembers it was re-founded).
        c.stop(survivor)
        c.launch(survivor, ["--force-new-cluster"])
        check("the survivor restarted with --force-new-cluster still given stays one of 3 voters",
              wait_for(lambda: (c.members(survivor) or {}).get("leader_id") and
                       c.voters(survivor) == [1, 4, 5], 15, 0.2), str(c.members(survivor)))
        last = submit_some("last", 2)
        check("jobs submitted after that restart complete", completed(last))
        runs_seen = runs.counts()
        check("every job ran, none twice",
              all(runs_seen.get(k) == 1 for k, _ in kept + after + last), str(runs_seen))
    finally:
        c.stop_all()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default="build/nomad-lite")
    parser.add_argument("--out", default="build/membership")
    parser.add_argument("--only", choices=["plain", "secure", "recovery"])
    a = parser.parse_args()
    binary = os.path.abspath(a.bin)
    if a.only in (None, "plain"):
        plain(binary, os.path.abspath(a.out))
    if a.only in (None, "secure"):
        secure(binary, os.path.abspath(a.out))
    if a.only in (None, "recovery"):
        recovery(binary, os.path.abspath(a.out))
    if not failures:
        # Each node's data directory holds a 64 MiB WAL segment; the logs are what is kept.
        for root, dirs, _ in os.walk(os.path.abspath(a.out)):
            for d in [d for d in dirs if d.startswith("data-")]:
                shutil.rmtree(os.path.join(root, d), ignore_errors=True)
                dirs.remove(d)
    return finish(os.path.abspath(a.out))


if __name__ == "__main__":
    sys.exit(main())
