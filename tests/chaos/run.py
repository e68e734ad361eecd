#!/usr/bin/env python3
"""Fault runs: real nomad-lite nodes in network namespaces under a job stream and a seeded
schedule of faults, then the history checker. Needs root (namespaces, iptables, tmpfs).

  tests/chaos/run.py --mode short --seeds 1 --nodes 3            # the run in `make test`
  tests/chaos/run.py --mode chaos --seeds 1,2,3 --nodes 3,5 --seconds 300
  tests/chaos/run.py --mode soak --duration 1h

Every run writes its history to <out>/<mode>-s<seed>-n<nodes>-nl<pid>/ (node logs, the fault
plan with times, submissions, status observations, the jobs' own lines, the final job lists),
which tests/chaos/checker.py can check again. Exits 1 on a violation, 2 on a setup error.
"""
import argparse
import json
import os
import re
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import checker  # noqa: E402
import nemesis  # noqa: E402
from cluster import Cluster, http_json, unmount_leftovers  # noqa: E402
from delayer import build_delayer  # noqa: E402
from netns import Network, cleanup_leftovers  # noqa: E402
from resources import analyse_growth  # noqa: E402
from workload import JobStream, Poller, Sampler  # noqa: E402

MODES = {
    # fault phase (s), long partition (s), heal-to-pause gap (s), nemeses, job rate (1/s),
    # longest job (s), fault length and quiet time between faults (s)
    "short": dict(seconds=60, long_partition=12, gap=3,
                  nemeses=["partition-then-pause", "kill", "isolate-leader", "one-way",
                           "clock-jump", "disk-full"],
                  rate=5, max_job_seconds=5, durations=(2, 5), quiet=(1.5, 3)),
    "chaos": dict(seconds=300, long_partition=60, gap=5, nemeses=list(nemesis.ALL), rate=5,
                  max_job_seconds=10, durations=(2, 8), quiet=(2, 4)),
    "soak": dict(seconds=3600, long_partition=60, gap=5, nemeses=list(nemesis.ALL), rate=2,
                 max_job_seconds=10, durations=(2, 8), quiet=(10, 30)),
}


def parse_duration(text):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)?", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r}: write a duration as 90s, 10m or 1h")
    value, unit = float(m.group(1)), m.group(2) or "s"
    return value * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


def int_list(text):
    try:
        return [int(x) for x in re.split(r"[,\s]+", text.strip()) if x]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give numbers separated by commas")


def write_jsonl(path, rows):
    with open(path, "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


def list_jobs(cluster, i):
    jobs, token = [], None
    for _ in range(1000):
        url = cluster.http(i) + "/api/jobs?limit=1000" + (f"&page_token={token}" if token else "")
        try:
            code, body = http_json(url, timeout=10)
        except OSError as e:
            return {"error": str(e)}
        if code != 200:
            return {"error": f"HTTP {code}: {body}"}
        jobs.extend(body["jobs"])
        token = body.get("next_page_token")
        if not token:
            return {"jobs": jobs}
    return {"error": "more than 1000 pages"}


def applied_indexes(cluster):
    out = {}
    for i in range(1, cluster.n + 1):
        try:
            s = cluster.status(i, timeout=2) if cluster.alive(i) else None
        except OSError:
            s = None
        if s:
            out[i] = s.get("applied_index")
    return out


def settled(cluster):
    """True when no node lists a pending or running job and all apply the same index."""
    applied = set()
    for i in range(1, cluster.n + 1):
        if not cluster.alive(i):
            continue  # a crash is reported; the others must still settle
        try:
            for status in ("pending", "running"):
                code, body = http_json(cluster.http(i) + f"/api/jobs?status={status}&limit=1",
                                       timeout=2)
                if code != 200 or body.get("total", len(body.get("jobs", []))) > 0:
                    return False
            s = cluster.status(i, timeout=2)
        except OSError:
            return False
        if not s:
            return False
        applied.add(s.get("applied_index"))
    return len(applied) == 1


class Run:
    def __init__(self, a, seed, nodes, log):
        self.a, self.seed, self.nodes, self.log = a, seed, nodes, log
        self.mode = MODES[a.mode]
        self.name = f"{a.mode}-s{seed}-n{nodes}-nl{os.getpid()}"
        self.dir = os.path.join(os.path.abspath(a.out), self.name)

    def execute(self):
        a, m = self.a, self.mode
        seconds = a.seconds or m["seconds"]
        long_partition = a.long_partition or min(m["long_partition"], max(5, seconds / 4))
        if os.path.exists(self.dir):
            shutil.rmtree(self.dir)
        os.makedirs(os.path.join(self.dir, "jobs"))
        # The jobs write their traces here as the servers' job user (nobody for a root server).
        os.chmod(os.path.join(self.dir, "jobs"), 0o1777)
        os.makedirs(os.path.join(self.dir, "final"))
        net = Network(self.nodes)
        server_args = ["--worker-slots", str(a.worker_slots), "--worker-timeout",
                       a.worker_timeout, "--kill-grace", a.kill_grace] + a.server_arg
        if a.mode == "soak":
            server_args += ["--retain-jobs", str(a.retain_jobs)]
        nemeses = a.nemeses.split(",") if a.nemeses else m["nemeses"]
        unknown = set(nemeses) - set(nemesis.ALL)
        if unknown:
            raise SystemExit(f"run: unknown nemeses {sorted(unknown)}; known: {nemesis.ALL}")
        c = Cluster(os.path.abspath(a.bin), self.dir, net, server_args,
                    disk_node=self.nodes - 1 if "disk-full" in nemeses else None,
                    clock_node=self.nodes if "clock-jump" in nemeses else None,
                    fake_monotonic=a.fake_monotonic, log=self.log)
        if "delay" in nemeses:
            net.delayer_program = build_delayer(os.path.abspath(a.out))
        plan = nemesis.make_plan(self.seed, seconds, nemeses, long_partition, m["gap"],
                                 quiet=m["quiet"], durations=m["durations"])
        run_info = {"mode": a.mode, "seed": self.seed, "nodes": self.nodes, "seconds": seconds,
                    "prefix": net.prefix, "server_args": server_args, "plan": plan,
                    "disk_node": c.disk_node, "clock_node": c.clock_node,
                    "retention_window": a.retain_jobs // 2 if a.mode == "soak" else None}
        self.log(f"== {self.name}: {len(plan)} faults planned over {seconds:.0f} s, "
                 f"nodes in {net.prefix}-n*, history in {self.dir}")
        poller = sampler = stream = nem = None
        try:
            net.create()
            net.enter_client_namespace()
            c.prepare()
            c.start_all()
            leader, _ = c.wait_leader(30)
            if not leader:
                raise RuntimeError("no leader within 30 s of the start; see the node logs in "
                                   + self.dir)
            poller = Poller(c)
            poller.start()
            sampler = Sampler(c, a.sample_interval)
            sampler.start()
            stream = JobStream(c, os.path.join(self.dir, "jobs"), self.seed, self.name,
                               a.rate or m["rate"], a.max_jobs, seconds,
                               max_job_seconds=m["max_job_seconds"],
                               leader_hint=poller.latest_leader)
            nem = nemesis.Nemesis(c, poller, self.log)
            stream.start()
            run_info["stream_start"] = stream.start_t
            nem.run(plan, stream.start_t, stop=lambda: time.monotonic() >= stream.end_t)
            nem.wait_until(stream.end_t, lambda: False)
            run_info["stream_end"] = time.monotonic()
            nem.heal_all()
            stream.join(stream.give_up_after + 5)
            self.log(f"   stream done: {len(stream.specs)} jobs submitted; waiting for every "
                     "job to end on every node")
            deadline = time.monotonic() + a.final_wait
            while not settled(c) and time.monotonic() < deadline:
                time.sleep(0.5)
            run_info["settled_after_s"] = round(time.monotonic() - run_info["stream_end"], 2)
            # A node that exited without being killed by a nemesis crashed.
            nem.check_crashes()
            # The lists are taken again if any node applied an entry meanwhile (the leader may
            # still commit a retention removal), so that all come from one state.
            for _ in range(10):
                before = applied_indexes(c)
                lists = {i: list_jobs(c, i) for i in range(1, self.nodes + 1)}
                if before == applied_indexes(c) and len(set(before.values())) <= 1:
                    break
                time.sleep(0.5)
            for i, jobs in lists.items():
                with open(os.path.join(self.dir, "final", f"node-{i}.json"), "w") as f:
                    json.dump(jobs, f)
            details = {}
            leader = c.leader() or 1
            for s in stream.submissions:
                job_id = s.get("job_id")
                if job_id and job_id not in details:
                    try:
                        code, body = http_json(c.http(leader) + f"/api/jobs/{job_id}",
                                               timeout=5)
                    except OSError as e:
                        code, body = None, str(e)
                    if code == 200:
                        details[job_id] = body
            with open(os.path.join(self.dir, "final", "details.json"), "w") as f:
                json.dump(details, f)
        finally:
            for part in (stream, poller, sampler):
                if part:
                    part.stop_flag.set()
            if poller:
                poller.stop()
            if sampler:
                sampler.stop()
            c.stop()
            c.unmount()
            net.teardown()
            if stream:
                write_jsonl(os.path.join(self.dir, "specs.jsonl"), stream.specs)
                write_jsonl(os.path.join(self.dir, "submissions.jsonl"), stream.submissions)
            if poller:
                write_jsonl(os.path.join(self.dir, "observations.jsonl"), poller.observations)
            if sampler:
                write_jsonl(os.path.join(self.dir, "samples.jsonl"), sampler.samples)
            if nem:
                write_jsonl(os.path.join(self.dir, "plan.jsonl"), nem.events)
                run_info["crashed"] = nem.crashes
            with open(os.path.join(self.dir, "run.json"), "w") as f:
                json.dump(run_info, f, indent=1)

        result = checker.check(self.dir, a.allow_overlap, a.allow_lost, a.max_unavailable)
        growth = analyse_growth(sampler.samples if sampler else [])
        if a.mode == "soak":
            for g in growth:
                if g["flag"]:
                    result.add("growth", g["text"])
        with open(os.path.join(self.dir, "result.json"), "w") as f:
            json.dump({"violations": result.violations, "notes": result.notes,
                       "metrics": result.metrics, "growth": growth}, f, indent=1)
        for v in result.violations[:40]:
            self.log(f"   VIOLATION {v['rule']}: {v['message']}")
        if len(result.violations) > 40:
            self.log(f"   ... {len(result.violations) - 40} more in {self.dir}/result.json")
        longest = {}
        for g in growth:
            if g["minutes"] >= longest.get(g["node"], (0, None))[0]:
                longest[g["node"]] = (g["minutes"], g["incarnation"])
        for g in growth:  # each node's longest-lived process, and anything flagged
            if g["flag"] or (longest[g["node"]][1] == g["incarnation"]
                             and g["metric"] in ("rss", "rss_anon", "fds", "threads")):
                self.log(f"   resources: {g['text']}")
        mt = result.metrics
        self.log(f"   {self.name}: faults {mt['faults']}, jobs {mt['jobs_acknowledged']}, "
                 f"violations {mt['violations']}, longest unavailable "
                 f"{mt.get('longest_unavailable_s')} s, election p50/p99 "
                 f"{mt.get('election_p50_s')}/{mt.get('election_p99_s')} s, overlapping "
                 f"attempts {mt['overlapping_attempts']}, lost-final {mt['jobs_lost_final']}")
        return result


def summary(results, log):
    times = [t for r in results for t in r.metrics.get("election_times", [])]
    row = {
        "runs": len(results),
        "faults": sum(r.metrics["faults"] for r in results),
        "jobs": sum(r.metrics["jobs_acknowledged"] for r in results),
        "violations": sum(len(r.violations) for r in results),
        "longest_unavailable_s": max((r.metrics.get("longest_unavailable_s") or 0)
                                     for r in results),
        "election_p50_s": round(checker.percentile(times, 50), 3) if times else None,
        "election_p99_s": round(checker.percentile(times, 99), 3) if times else None,
        "leader_faults": sum(r.metrics["leader_faults"] for r in results),
        "overlapping_attempts": sum(r.metrics["overlapping_attempts"] for r in results),
        "jobs_lost_final": sum(r.metrics["jobs_lost_final"] for r in results),
    }
    log("summary: " + json.dumps(row))
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", choices=sorted(MODES), default="short")
    ap.add_argument("--seeds", type=int_list, default=[1], help="e.g. 1,2,3")
    ap.add_argument("--nodes", type=int_list, default=[3], help="node counts, e.g. 3,5")
    ap.add_argument("--seconds", type=parse_duration, default=None,
                    help="length of the fault phase (default per mode)")
    ap.add_argument("--duration", type=parse_duration, default=None,
                    help="same as --seconds (for make soak DURATION=1h)")
    ap.add_argument("--long-partition", type=parse_duration, default=None,
                    help="the partition healed before the leader is paused (default per mode)")
    ap.add_argument("--nemeses", default=None, help=f"comma-separated, from {nemesis.ALL}")
    ap.add_argument("--rate", type=float, default=None, help="job submissions per second")
    ap.add_argument("--max-jobs", type=int, default=100000)
    ap.add_argument("--bin", default="build/nomad-lite")
    ap.add_argument("--out", default="build/chaos")
    ap.add_argument("--worker-slots", type=int, default=8)
    ap.add_argument("--worker-timeout", default="2s")
    ap.add_argument("--kill-grace", default="500ms")
    ap.add_argument("--retain-jobs", type=int, default=2000, help="soak: the servers' "
                    "--retain-jobs, so that a long run reaches a steady state")
    ap.add_argument("--server-arg", action="append", default=[],
                    help="an extra server flag (repeat), e.g. --server-arg=--lost-retries=3")
    ap.add_argument("--sample-interval", type=float, default=5.0,
                    help="seconds between samples of each node's RSS, fds and threads")
    ap.add_argument("--final-wait", type=float, default=60.0,
                    help="seconds to wait after the heal for every job to end")
    ap.add_argument("--fake-monotonic", action="store_true",
                    help="clock jumps move CLOCK_MONOTONIC and CLOCK_BOOTTIME too, not only the "
                    "wall clock")
    ap.add_argument("--allow-overlap", action="store_true",
                    help="report overlapping attempts of a job without failing")
    ap.add_argument("--allow-lost", action="store_true",
                    help="report jobs whose every attempt was lost without failing")
    ap.add_argument("--max-unavailable", type=float, default=None, metavar="SECONDS",
                    help="fail when no write was acknowledged for longer while a majority "
                    "was connected")
    a = ap.parse_args()
    a.seconds = a.seconds or a.duration
    if os.geteuid() != 0:
        print("run: needs root (network namespaces, iptables inside them, a tmpfs mount)",
              file=sys.stderr)
        return 2
    if not os.access(a.bin, os.X_OK):
        print(f"run: {a.bin} is not an executable; build it first (make build)", file=sys.stderr)
        return 2
    for tool in ("ip", "iptables"):
        if not shutil.which(tool):
            print(f"run: {tool} is missing; run scripts/install-deps", file=sys.stderr)
            return 2

    def log(msg):
        print(msg, flush=True)

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    # Ctrl-C cleans up even when started from a shell that made SIGINT ignored (a & job).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.makedirs(a.out, exist_ok=True)
    cleanup_leftovers(log)
    unmount_leftovers(a.out, log)
    results = []
    try:
        for nodes in a.nodes:
            for seed in a.seeds:
                results.append(Run(a, seed, nodes, log).execute())
    except KeyboardInterrupt:
        log("run: interrupted; namespaces, processes and mounts removed")
        return 130
    except RuntimeError as e:
        log(f"run: {e}")
        return 2
    row = summary(results, log)
    return 1 if row["violations"] else 0


if __name__ == "__main__":
    sys.exit(main())
