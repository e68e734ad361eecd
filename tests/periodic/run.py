#!/usr/bin/python3
"""Periodic jobs on real nomad-lite processes: every due tick has exactly one child or a
recorded skip or miss, none twice, across leader kills, restarts and a whole-cluster outage.

A 3-node cluster on 127.0.0.1 runs periodic jobs at one-second intervals:
  all   --every 1s --catch-up all  -- true        (one child per tick, always)
  skip  --every 1s --overlap skip  --catch-up all -- sleep 2.5  (most ticks skipped)
  none  --every 1s --catch-up none -- true        (ticks missed in the outage are recorded)
  last  --every 1s --catch-up last -- true        (one run for the outage, the rest missed)
The leader is SIGKILLed and restarted several times (snapshots are taken often, so restarts
and lagging followers go through snapshot installs too), then the whole cluster is down for
longer than the 10 s grace. Then the jobs are paused and every tick from the creation to the
last handled one is checked, through REST, the job list and the CLI.

  tests/periodic/run.py --bin build/nomad-lite --out build/periodic [--kills 4] [--outage 60]
make test-periodic runs --kills 2 --outage 11, make test-periodic-full --kills 4 --outage 60.
Exit code 1 when a check fails; one PASS/FAIL line per check.
"""

import argparse
import json
import os
import signal
import sys
import time

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TESTS, "support"))
from checks import check, finish  # noqa: E402
from local_cluster import FINAL, LocalCluster  # noqa: E402
from localhost import wait_for  # noqa: E402

GRACE_MS = 10_000  # the launcher's grace (src/jobs/periodic_ticks.h)


def ms(rfc3339):
    """RFC 3339 UTC with milliseconds ("2026-12-07T10:00:01.000Z") as Unix ms."""
    from datetime import datetime, timezone
    t = datetime.strptime(rfc3339, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    return round(t.timestamp() * 1000)


def new_cluster(binary, out):
    """Three servers with dashboards; a snapshot every 50 entries, so that restarts and lagging
    followers go through snapshot installs too."""
    return LocalCluster(binary, out, dashboards=True,
                        server_args=["--worker-slots", "4", "--snapshot-entries", "50"])


def text_cli(cluster, *args):
    """(exit code, stdout, stderr) of a CLI call in its table output, as a person reads it."""
    return cluster.cli(list(args), output=None)


def create(cluster, leader, name, body):
    code, out = cluster.rest("POST", "/api/periodic", body, node=leader)
    check(f"create {name}", code == 201, f"{code} {out}")
    return out["id"]


def final_state(cluster, leader, pid):
    code, p = cluster.rest("GET", f"/api/periodic/{pid}?consistent=1", node=leader)
    return p if code == 200 else None


def children_by_tick(jobs, pid):
    out = {}
    for job in jobs:
        if job.get("periodic_id") == pid and job.get("tick"):
            out.setdefault(ms(job["tick"]), []).append(job)
    return out


def check_accounting(name, p, children, expect_kinds):
    """Every tick from the creation to the last handled one: exactly one child or one
    recorded skip/miss, none twice."""
    created = ms(p["created_at"])
    last = ms(p["last_tick"])
    due = list(range((created // 1000 + 1) * 1000, last + 1, 1000))
    run_ticks = [ms(r["tick"]) for r in p["runs"] if r["tick"]]
    not_run = {ms(r["tick"]): r["result"] for r in p["not_run"]}
    twice = [t for t, c in children.items() if len(c) > 1]
    check(f"{name}: no tick has two children", not twice, f"ticks {twice[:5]}")
    dup = len(run_ticks) != len(set(run_ticks)) or set(run_ticks) & set(not_run)
    check(f"{name}: no tick is both run and recorded", not dup)
    unaccounted = [t for t in due if t not in children and t not in not_run]
    check(f"{name}: every due tick accounted for ({len(due)} ticks, {len(children)} children, "
          f"{len(not_run)} skipped/missed)", not unaccounted,
          f"{len(unaccounted)} ticks with neither, first {unaccounted[:3]}")
    extra = [t for t in children if t not in due]
    check(f"{name}: no child for a tick that was not due", not extra, f"{extra[:3]}")
    kinds = set(not_run.values())
    check(f"{name}: recorded ticks are {sorted(expect_kinds) or 'none'}",
          kinds <= set(expect_kinds), f"found {sorted(kinds)}")
    counts = p["counts"]
    check(f"{name}: counts match the runs", counts["skipped"] + counts["missed"] == len(not_run)
          and counts["launched"] - counts["run_now"] == len(children),
          f"counts {counts}, {len(children)} children, {len(not_run)} recorded")
    return due, children, not_run


def check_after(cluster, leader):
    """--after through the REST API and the CLI: a job waits for the jobs it names, fails
    with dependency_failed when one fails, and can name only existing jobs."""
    def submit(body):
        return cluster.rest("POST", "/api/jobs", body, node=leader)

    def job(job_id):
        return cluster.rest("GET", f"/api/jobs/{job_id}", node=leader)[1] or {}

    def jobs():
        return (cluster.rest("GET", "/api/jobs?limit=1000", node=leader)[1] or {}).get("jobs", [])

    code, first = submit({"command": "sleep 1"})
    code2, waiting = submit({"command": "true", "after": [first["id"]]})
    check("after: a job naming a running one is accepted and waits",
          code == 201 and code2 == 201 and waiting["status"] == "pending", f"{code2} {waiting}")
    seen = job(waiting["id"])
    check("after: its pending reason names the job it waits for",
          seen and seen["status"] != "pending" or
          seen.get("pending_reason") == f"waiting for job {first['id']}", f"{seen}")
    done = wait_for(lambda: job(waiting["id"]).get("status") == "completed", 15, 0.2)
    a, b = job(first["id"]), job(waiting["id"])
    check("after: it ran once the job it waited for completed",
          done and a.get("finished_at") and b.get("started_at") and
          ms(b["started_at"]) >= ms(a["finished_at"]), f"{a} {b}")
    _, failing = submit({"command": "sleep 0.5; exit 3"})
    rc, out, err = text_cli(cluster, "job", "submit", "--after", failing["id"], "--", "echo never")
    dependent = out.split()[1] if rc == 0 and len(out.split()) > 1 else ""
    check("CLI: job submit --after is accepted", rc == 0, out + err)
    failed = wait_for(lambda: [j for j in jobs()
                               if j["after"] == [failing["id"]] and j["status"] == "failed"], 15,
                      0.2)
    check("after: a job whose dependency failed ends failed (dependency_failed) without running",
          failed and failed[0]["reason"] == "dependency_failed" and not failed[0]["attempts"],
          f"{failed} {dependent}")
    code, body = submit({"command": "true", "after": ["no-such-job"]})
    check("after: naming a job that does not exist is 400 (no cycle can form)",
          code == 400 and "no-such-job" in json.dumps(body), f"{code} {body}")
    rc, _, err = text_cli(cluster, "job", "submit", "--after", f"{first['id']},no-such-job", "--",
                          "true")
    check("CLI: job submit --after an unknown id exits 2 naming it",
          rc == 2 and "no-such-job" in err, f"{rc} {err}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--kills", type=int, default=4)
    ap.add_argument("--outage", type=float, default=14.0, help="seconds the cluster is down")
    args = ap.parse_args()
    if args.outage <= GRACE_MS / 1000:
        ap.error(f"--outage {args.outage:g} must be longer than the launcher's grace "
                 f"({GRACE_MS / 1000:g} s), or no tick is missed")
    # Each kill lets at least 5 s of ticks pass, the outage its own length: the "all" job
    # must have seen at least that many ticks.
    min_ticks = int(5 * args.kills + args.outage)
    outdir = os.path.abspath(args.out)
    cluster = new_cluster(os.path.abspath(args.bin), outdir)
    try:
        cluster.bootstrap()
        leader = wait_for(cluster.leader, 20)
        if not check("a leader is elected", bool(leader)):
            return finish(outdir)
        # Bad input: the parser's own messages, as 400 and CLI exit code 2.
        code, body = cluster.rest("POST", "/api/periodic",
                                  {"command": "true", "cron": "61 * * * *"}, node=leader)
        check("REST: a bad cron expression is 400 naming the field",
              code == 400 and "minute" in json.dumps(body), f"{code} {body}")
        code, body = cluster.rest("POST", "/api/periodic", {"command": "true", "cron": "0 3 * * *",
                                                            "tz": "Mars/Olympus"}, node=leader)
        check("REST: an unknown zone is 400", code == 400 and "Mars/Olympus" in json.dumps(body),
              f"{code} {body}")
        rc, _, err = text_cli(cluster, "job", "submit", "--cron", "* * * *", "--", "true")
        check("CLI: a bad cron expression exits 2", rc == 2, err)
        # Written by hand: json.dumps cannot give a key twice.
        code, body = cluster.rest("POST", "/api/periodic", node=leader,
                                  raw=b'{"command": "true", "every": "1s", "every": "1h"}')
        check("REST: a body with a key given twice is 400 naming it",
              code == 400 and "'every' appears more than once" in json.dumps(body),
              f"{code} {body}")

        check_after(cluster, leader)
        ids = {
            "all": create(cluster, leader, "all",
                          {"command": "true", "every": "1s", "catch_up": "all"}),
            "skip": create(cluster, leader, "skip",
                           {"command": "sleep 2.5", "every": "1s", "catch_up": "all",
                            "overlap": "skip"}),
            "none": create(cluster, leader, "none",
                           {"command": "true", "every": "1s", "catch_up": "none"}),
            "last": create(cluster, leader, "last",
                           {"command": "true", "every": "1s", "catch_up": "last"}),
        }
        # Leader kills: SIGKILL, a new leader takes over, the old one restarts.
        for k in range(args.kills):
            deadline = time.monotonic() + 5
            wait_for(lambda: time.monotonic() >= deadline, 6, 0.2)  # ticks go on meanwhile
            leader = wait_for(cluster.leader, 10)
            if not leader:
                check(f"kill {k + 1}: a leader is known", False)
                continue
            cluster.stop(leader, signal.SIGKILL)
            new = wait_for(lambda: (lambda n: n if n and n != leader else 0)(cluster.leader()), 10)
            check(f"kill {k + 1}: node {leader} SIGKILLed, node {new} leads", bool(new))
            cluster.restart(leader)
        # The whole cluster down for longer than the grace. It goes down late in a second, so
        # that with --outage just over the grace two ticks are overdue by more than the grace
        # when it is back (the "last" job runs one of them and must record the other missed);
        # going down early in a second left only one whenever the election was quick.
        wait_for(lambda: 0.7 <= time.time() % 1 < 0.9, 2, 0.01)
        for i in (1, 2, 3):
            cluster.stop(i, signal.SIGKILL)
        deadline = time.monotonic() + args.outage
        wait_for(lambda: time.monotonic() >= deadline, args.outage + 1, 0.2)
        for i in (1, 2, 3):
            cluster.restart(i)
        leader = wait_for(cluster.leader, 20)
        check("after the outage a leader is elected", bool(leader))
        # Let the catch-up and a few ticks on time happen, then stop the ticks.
        up = time.time()
        wait_for(lambda: all((final_state(cluster, leader, pid) or {}).get("last_tick") and
                             ms(final_state(cluster, leader, pid)["last_tick"]) >= up * 1000 + 2000
                             for pid in ids.values()), 15, 0.2)
        for name, pid in ids.items():
            code, body = cluster.rest("POST", f"/api/periodic/{pid}/pause", {}, node=leader)
            check(f"pause {name}", code == 200 and body["state"] == "paused", f"{code} {body}")
        # Children still running end (the skip job's sleeps); then read everything.
        def all_final():
            code, body = cluster.rest("GET", "/api/jobs?limit=1000&consistent=1", node=leader)
            if code != 200:
                return None
            jobs = body["jobs"]
            return jobs if all(j["status"] in FINAL for j in jobs) else None
        jobs = wait_for(all_final, 30, 0.3)
        check("every child ended", bool(jobs))
        jobs = jobs or []

        states = {name: final_state(cluster, leader, pid) for name, pid in ids.items()}
        for name, p in states.items():
            if not check(f"{name}: readable", p is not None):
                continue
            kinds = {"all": [], "skip": ["skipped"], "none": ["missed"], "last": ["missed"]}[name]
            due, children, not_run = check_accounting(name, p, children_by_tick(jobs, p["id"]),
                                                      kinds)
            failed = [c[0]["id"] for c in children.values() if c[0]["status"] != "completed"]
            check(f"{name}: every child completed", not failed, f"{failed[:3]}")
            if name == "all":
                lag = sorted(ms(c[0]["created_at"]) - t for t, c in children.items())
                if lag:
                    print(f"all: a child is created {lag[len(lag) // 2]} ms after its tick "
                          f"(median; 90th percentile {lag[len(lag) * 9 // 10]} ms, max "
                          f"{lag[-1]} ms, leader kills and the outage included)", flush=True)
                check("all: one child for every due tick (catch-up all)",
                      len(children) == len(due) and len(due) >= min_ticks,
                      f"{len(children)} children for {len(due)} ticks (at least {min_ticks})")
            if name == "skip":
                # A skipped tick came while an earlier child still ran (it sleeps 2.5 s; the
                # slack covers a finish reported late across a leader change).
                runs = sorted((ms(c[0]["tick"]), c[0]) for c in children.values())
                bad = []
                for t in not_run:
                    before = [j for (tt, j) in runs if tt < t]
                    if not before or (before[-1]["finished_at"] and
                                      ms(before[-1]["finished_at"]) < t - 5000):
                        bad.append(t)
                check("skip: every skipped tick overlapped a running child", not bad, f"{bad[:3]}")
                check("skip: most ticks were skipped", len(not_run) > len(children),
                      f"{len(not_run)} skipped, {len(children)} run")
            if name in ("none", "last"):
                # A child's created_at is when the leader decided its tick; a record's "at" too.
                late = [t for t, c in children.items() if ms(c[0]["created_at"]) - t > GRACE_MS]
                missed_on_time = [r for r in p["not_run"]
                                  if ms(r["at"]) - ms(r["tick"]) <= GRACE_MS]
                check(f"{name}: the outage left missed ticks, each decided overdue",
                      not_run and not missed_on_time,
                      f"{len(not_run)} missed, {len(missed_on_time)} of them on time")
                if name == "none":
                    check("none: no tick was run overdue", not late, f"{late[:3]}")
                else:
                    check("last: one overdue tick ran for the outage", len(late) == 1,
                          f"{len(late)} overdue ticks ran")

        rc, out, err = text_cli(cluster, "job", "list", "--periodic")
        check("CLI: job list --periodic lists them", rc == 0 and
              all(pid in out for pid in ids.values()), out + err)
        rc, out, err = text_cli(cluster, "job", "status", ids["skip"])
        check("CLI: job status of a periodic job shows its schedule, counts and runs",
              rc == 0 and "every 1s" in out and "skipped" in out and
              "History" in out, out + err)
        rc, out, err = text_cli(cluster, "job", "run-now", ids["all"])
        check("CLI: job run-now starts one child", rc == 0 and
              f"{ids['all']}-now-1" in out, out + err)
        rc, out, err = text_cli(cluster, "job", "cancel", ids["all"])
        check("CLI: job cancel of a periodic job stops it", rc == 0 and
              "cancelled" in out, out + err)
        rc, out, err = text_cli(cluster, "job", "list", "--periodic")
        check("CLI: job list --periodic leaves the cancelled one out and says so",
              rc == 0 and ids["all"] not in out and ids["skip"] in out and
              "1 cancelled periodic job not shown" in err, out + err)
        rc, out, err = text_cli(cluster, "job", "list", "--periodic", "--all")
        row = [line for line in out.splitlines() if ids["all"] in line]
        check("CLI: job list --periodic --all lists it as cancelled",
              rc == 0 and row and "cancelled" in row[0], out + err)
    finally:
        cluster.stop_all()
    return finish(outdir)


if __name__ == "__main__":
    sys.exit(main())
