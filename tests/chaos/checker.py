#!/usr/bin/env python3
"""Checks the history of a fault run (a directory written by tests/chaos/run.py).

Rules (each violation names its rule):
  lost            every acknowledged job is in every node's final list
  duplicate-key   one job per idempotency key (a key acknowledged with one id only, and one
                  job in the final lists whose command carries the key's token)
  not-final       every job is completed, failed or cancelled once faults are healed
  attempt-twice   no (job, attempt) started twice (from the jobs' own lines)
  unknown-attempt every attempt that ran is one the job knows
  overlap         no two attempts of a job alive at the same time (from the jobs' own lines)
  outcome         status, exit code and output as the command implies; a job whose attempts
                  were all lost is `lost-final` (a violation unless allowed)
  two-leaders     no two leaders in one term (from every node's status, polled)
  commit-back     a node's commit index never goes backwards (within one process lifetime)
  disagree        all nodes list the same jobs in the same final states
  crash           a node exited that no nemesis killed
  unavailable     the longest window without an acknowledged write while a majority was
                  connected (a violation only above --max-unavailable)
It also reports the election time after each leader fault.

Usage: tests/chaos/checker.py HISTORY_DIR [--allow-overlap] [--allow-lost]
                              [--max-unavailable SECONDS] [--json]
"""
import argparse
import json
import os
import sys
from collections import defaultdict

RULES = ("lost", "duplicate-key", "not-final", "attempt-twice", "unknown-attempt", "overlap",
         "outcome", "lost-final", "two-leaders", "commit-back", "disagree", "unavailable",
         "crash")
FINAL = {"completed", "failed", "cancelled"}
WARMUP = 2.0  # seconds after the stream starts before windows count (first election)


def read_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def read_json(path, default=None):
    if not os.path.exists(path):
        return default
    with open(path) as f:
        return json.load(f)


class History:
    def __init__(self, d):
        self.dir = d
        self.run = read_json(os.path.join(d, "run.json"), {})
        self.n = self.run.get("nodes", 3)
        self.events = read_jsonl(os.path.join(d, "plan.jsonl"))
        self.specs = {s["token"]: s for s in read_jsonl(os.path.join(d, "specs.jsonl"))}
        self.submissions = read_jsonl(os.path.join(d, "submissions.jsonl"))
        self.observations = read_jsonl(os.path.join(d, "observations.jsonl"))
        self.final = {}
        for i in range(1, self.n + 1):
            self.final[i] = read_json(os.path.join(d, "final", f"node-{i}.json"))
        self.details = read_json(os.path.join(d, "final", "details.json"), {})
        self.lines = {}
        jobs_dir = os.path.join(d, "jobs")
        if os.path.isdir(jobs_dir):
            for token in os.listdir(jobs_dir):
                with open(os.path.join(jobs_dir, token), errors="replace") as f:
                    self.lines[token] = [line.split() for line in f if line.strip()]


class Result:
    def __init__(self):
        self.violations = []
        self.notes = []
        self.metrics = {}

    def add(self, rule, msg):
        self.violations.append({"rule": rule, "message": msg})

    def rules(self):
        return sorted({v["rule"] for v in self.violations})


def token_of(command):
    """The token a job's command carries (the file it appends to)."""
    if not command or "f=" not in command:
        return None
    path = command.split("f=", 1)[1].split(";", 1)[0]
    return os.path.basename(path)


def percentile(values, p):
    if not values:
        return None
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * (len(s) - 1)))))
    return s[k]


def acknowledged(h):
    """token -> set of job ids acknowledged for it, and the acknowledgement times."""
    acks, times = defaultdict(set), []
    for s in h.submissions:
        if s.get("job_id"):
            acks[s["token"]].add(s["job_id"])
            times.append(s["t1"])
    return acks, sorted(times)


def retained_tokens(h, acks):
    """Tokens whose jobs must still be listed: with --retain-jobs R (soak) only the last R/2
    acknowledged, as older finished jobs may have been removed by retention."""
    window = h.run.get("retention_window")
    if not window:
        return set(acks)
    order = sorted(acks, key=lambda t: h.specs.get(t, {}).get("n", 0))
    return set(order[-window:])


def check_jobs(h, r, allow_overlap, allow_lost):
    acks, _ = acknowledged(h)
    must_list = retained_tokens(h, acks)
    r.metrics["jobs_acknowledged"] = len(acks)
    r.metrics["submissions_unacknowledged"] = len(
        {s["token"] for s in h.submissions} - set(acks))
    finals = {i: {j["id"]: j for j in (f or {}).get("jobs", [])} for i, f in h.final.items()
              if f is not None and "jobs" in f}
    missing_nodes = [i for i, f in h.final.items() if f is None or "jobs" not in f]
    for i in missing_nodes:
        r.add("disagree", f"node {i}: no final job list ({(h.final[i] or {}).get('error')})")

    for token, ids in acks.items():
        if len(ids) > 1:
            r.add("duplicate-key", f"key of {token} acknowledged as {len(ids)} jobs: {sorted(ids)}")
        if token not in must_list:
            continue
        for job_id in ids:
            for i, jobs in finals.items():
                if job_id not in jobs:
                    r.add("lost", f"job {job_id} ({token}) acknowledged, missing on node {i}")

    per_token = defaultdict(set)
    for jobs in finals.values():
        for j in jobs.values():
            t = token_of(j.get("command"))
            if t:
                per_token[t].add(j["id"])
    for token, ids in per_token.items():
        if len(ids) > 1:
            r.add("duplicate-key", f"{token}: {len(ids)} jobs in the final lists: {sorted(ids)}")

    for i, jobs in finals.items():
        for j in jobs.values():
            if j.get("status") not in FINAL:
                r.add("not-final", f"node {i}: job {j['id']} is {j.get('status')} after heal")

    # Agreement: the same ids, each in the same status, exit code and attempt.
    if finals:
        key = lambda j: (j.get("status"), j.get("exit_code"), j.get("attempt"))  # noqa: E731
        first_node = min(finals)
        for i in finals:
            if i == first_node:
                continue
            a, b = finals[first_node], finals[i]
            for job_id in set(a) ^ set(b):
                r.add("disagree", f"job {job_id} listed by only one of nodes {first_node}, {i}")
            for job_id in set(a) & set(b):
                if key(a[job_id]) != key(b[job_id]):
                    r.add("disagree", f"job {job_id}: node {first_node} {key(a[job_id])}, "
                          f"node {i} {key(b[job_id])}")

    check_runs(h, r, finals, allow_overlap)
    check_outcomes(h, r, finals, acks, allow_lost)


def attempt_intervals(lines):
    """(job id, attempt) -> [first time, last time, starts, ended]."""
    spans = {}
    for parts in lines:
        if len(parts) < 4 or parts[0] not in ("start", "hb", "end"):
            continue
        key = (parts[1], parts[2])
        try:
            t = float(parts[3])
        except ValueError:
            continue
        s = spans.setdefault(key, [t, t, 0, False])
        s[0], s[1] = min(s[0], t), max(s[1], t)
        if parts[0] == "start":
            s[2] += 1
        if parts[0] == "end":
            s[3] = True
    return spans


def check_runs(h, r, finals, allow_overlap):
    known = {}
    for jobs in finals.values():
        for j in jobs.values():
            known.setdefault(j["id"], {a.get("number") for a in j.get("attempts") or []} | {
                j.get("attempt")})
    overlaps, longest = 0, 0.0
    ran_twice = 0
    for token, lines in h.lines.items():
        spans = attempt_intervals(lines)
        for (job_id, attempt), s in spans.items():
            if s[2] > 1:
                ran_twice += 1
                r.add("attempt-twice",
                      f"{token}: job {job_id} attempt {attempt} started {s[2]} times")
            if job_id in known and int(attempt) not in known[job_id]:
                r.add("unknown-attempt", f"{token}: attempt {attempt} ran, job {job_id} knows "
                      f"{sorted(x for x in known[job_id] if x is not None)}")
        items = sorted(spans.items(), key=lambda kv: kv[1][0])
        for x in range(len(items)):
            for y in range(x + 1, len(items)):
                (ka, a), (kb, b) = items[x], items[y]
                if ka[0] != kb[0]:
                    continue
                overlap = min(a[1], b[1]) - max(a[0], b[0])
                if overlap > 0:
                    overlaps += 1
                    longest = max(longest, overlap)
                    msg = (f"{token}: job {ka[0]} attempts {ka[1]} and {kb[1]} ran at the same "
                           f"time for {overlap:.2f} s")
                    if allow_overlap:
                        r.notes.append("overlap (allowed): " + msg)
                    else:
                        r.add("overlap", msg)
    r.metrics["overlapping_attempts"] = overlaps
    r.metrics["longest_overlap_s"] = round(longest, 3)
    r.metrics["attempts_run_twice"] = ran_twice


def check_outcomes(h, r, finals, acks, allow_lost):
    lost_final = 0
    reran = 0
    for token, ids in acks.items():
        spec = h.specs.get(token)
        if not spec:
            continue
        for job_id in ids:
            job = h.details.get(job_id)
            if job is None:
                for jobs in finals.values():
                    job = job or jobs.get(job_id)
            if job is None or job.get("status") not in FINAL:
                continue  # reported by lost / not-final
            attempts = job.get("attempts") or []
            if len(attempts) > 1:
                reran += 1
            if job.get("status") == "failed" and job.get("reason") == "lost":
                lost_final += 1
                msg = f"{token}: job {job_id} failed: every attempt was lost ({len(attempts)})"
                if allow_lost:
                    r.notes.append("lost-final (allowed): " + msg)
                else:
                    r.add("lost-final", msg)
                continue
            want_status = "completed" if spec["exit_code"] == 0 else "failed"
            if job.get("status") != want_status or job.get("exit_code") != spec["exit_code"]:
                r.add("outcome", f"{token}: job {job_id} {job.get('status')} "
                      f"({job.get('reason')}) exit {job.get('exit_code')}, want {want_status} "
                      f"exit {spec['exit_code']}")
                continue
            if "stdout_tail" in job and job["stdout_tail"] != spec["output"]:
                r.add("outcome", f"{token}: job {job_id} printed {job['stdout_tail']!r}, "
                      f"want {spec['output']!r}")
            ends = [p for p in h.lines.get(token, []) if p and p[0] == "end"
                    and p[1] == job_id and p[2] == str(job.get("attempt"))]
            if not ends:
                r.add("outcome", f"{token}: job {job_id} {job['status']} by attempt "
                      f"{job.get('attempt')}, which never wrote its end line")
    r.metrics["jobs_lost_final"] = lost_final
    r.metrics["jobs_run_more_than_once"] = reran


def check_leaders(h, r):
    leaders = defaultdict(set)
    for o in h.observations:
        if o.get("role") == "leader":
            leaders[o["term"]].add(o["node"])
        if o.get("leader_id") and o.get("term") is not None and o.get("role") != "leader":
            leaders[o["term"]].add(o["leader_id"])
    for term, nodes in sorted(leaders.items()):
        if len(nodes) > 1:
            r.add("two-leaders", f"term {term}: leaders {sorted(nodes)}")
    last = {}
    for o in sorted(h.observations, key=lambda o: o["t"]):
        if o.get("commit_index") is None:
            continue
        k = (o["node"], o.get("inc"))
        if k in last and o["commit_index"] < last[k][0]:
            r.add("commit-back", f"node {o['node']}: commit index {last[k][0]} then "
                  f"{o['commit_index']} ({o['t'] - last[k][1]:.2f} s later)")
        last[k] = (max(o["commit_index"], last.get(k, (0,))[0]), o["t"])
    r.metrics["terms_seen"] = len(leaders)


def majority_intervals(h, start, end):
    """Intervals in [start, end] during which the model says a majority was connected."""
    states = sorted((e["t"], e.get("majority", True)) for e in h.events if "t" in e)
    out, cur, since = [], True, start
    for t, maj in states:
        t = min(max(t, start), end)
        if maj != cur:
            if cur and t > since:
                out.append((since, t))
            cur, since = maj, t
    if cur and end > since:
        out.append((since, end))
    return out


def check_availability(h, r, max_unavailable):
    _, ack_times = acknowledged(h)
    start = h.run.get("stream_start")
    end = h.run.get("stream_end")
    if start is None or end is None:
        return
    worst, where = 0.0, None
    for a, b in majority_intervals(h, start + WARMUP, end):
        points = [a] + [t for t in ack_times if a < t < b] + [b]
        for x, y in zip(points, points[1:]):
            if y - x > worst:
                worst, where = y - x, x
    r.metrics["longest_unavailable_s"] = round(worst, 3)
    if where is not None:
        r.metrics["longest_unavailable_at_s"] = round(where - start, 2)
    if max_unavailable is not None and worst > max_unavailable:
        r.add("unavailable", f"no write acknowledged for {worst:.2f} s from "
              f"{where - start:.2f} s while a majority was connected (limit {max_unavailable} s)")


def check_elections(h, r):
    times, missing = [], 0
    leader_obs = sorted((o["t"], o["term"], o["node"]) for o in h.observations
                        if o.get("role") == "leader")
    faults = [e for e in h.events if e.get("event") == "fault" and e.get("leader_fault")]
    for e in faults:
        if not e.get("majority", True):
            continue  # no majority left to elect (a node had crashed): not an election time
        if not e.get("old_term"):
            missing += 1  # the leader's term was not known when the fault began
            continue
        found = next((t for t, term, _ in leader_obs
                      if t > e["t"] and term > e.get("old_term", 0)), None)
        if found is None or found - e["t"] > 60:
            missing += 1
            continue
        times.append(found - e["t"])
    r.metrics["leader_faults"] = len(faults)
    r.metrics["elections_not_seen"] = missing
    r.metrics["election_p50_s"] = round(percentile(times, 50), 3) if times else None
    r.metrics["election_p99_s"] = round(percentile(times, 99), 3) if times else None
    r.metrics["election_max_s"] = round(max(times), 3) if times else None
    r.metrics["election_times"] = [round(x, 3) for x in times]


def check(history_dir, allow_overlap=False, allow_lost=False, max_unavailable=None):
    h = History(history_dir)
    r = Result()
    start = h.run.get("stream_start") or 0
    for c in h.run.get("crashed") or []:
        r.add("crash", f"node {c['node']} exited with {c['code']} at {c['t'] - start:.2f} s "
              f"without being killed (see node-{c['node']}.log)")
    check_jobs(h, r, allow_overlap, allow_lost)
    check_leaders(h, r)
    check_availability(h, r, max_unavailable)
    check_elections(h, r)
    r.metrics["faults"] = sum(1 for e in h.events if e.get("event") == "fault")
    r.metrics["violations"] = len(r.violations)
    return r


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("history", help="a run's history directory (build/chaos/...)")
    ap.add_argument("--allow-overlap", action="store_true",
                    help="report overlapping attempts without failing")
    ap.add_argument("--allow-lost", action="store_true",
                    help="report jobs whose every attempt was lost without failing")
    ap.add_argument("--max-unavailable", type=float, default=None, metavar="SECONDS",
                    help="fail when no write was acknowledged for longer while a majority "
                    "was connected")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    a = ap.parse_args(argv)
    if not os.path.isfile(os.path.join(a.history, "run.json")):
        print(f"checker: {a.history} has no run.json: give the directory a run wrote "
              "(build/chaos/<run>)", file=sys.stderr)
        return 2
    r = check(a.history, a.allow_overlap, a.allow_lost, a.max_unavailable)
    if a.json:
        print(json.dumps({"violations": r.violations, "notes": r.notes, "metrics": r.metrics},
                         indent=1))
    else:
        for v in r.violations:
            print(f"VIOLATION {v['rule']}: {v['message']}")
        for n in r.notes[:20]:
            print("note:", n)
        print(json.dumps({k: v for k, v in r.metrics.items() if k != "election_times"}))
    return 1 if r.violations else 0


if __name__ == "__main__":
    sys.exit(main())
