#!/usr/bin/env python3
"""The history checker proves itself: a clean synthetic history passes, and each doctored
copy (one fault in what clients or jobs saw) makes its rule fire.

Run: python3 tests/chaos/checker_selftest.py   (also a ctest test, chaos-checker-selftest)
"""
import copy
import json
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checker  # noqa: E402

T0 = 1000.0  # stream start (time.monotonic() of the clients)
JOBS = 60  # one acknowledged every 0.5 s for 30 s
FAULT_AT = T0 + 10.0  # the leader (node 1) is paused here ...
ELECTED = 0.3  # ... and node 2 leads term 2 this much later


def job(job_id, token, status="completed", exit_code=0, attempts=1, reason=None):
    return {"id": job_id, "command": f"f=/tmp/jobs/{token}; echo", "status": status,
            "reason": reason, "exit_code": exit_code, "attempt": attempts,
            "attempts": [{"number": k, "status": "lost" if k < attempts else status}
                         for k in range(1, attempts + 1)]}


def clean_history():
    """A run of 3 nodes: 60 jobs, job 7 exits 3, job 9 ran twice (attempt 1 lost, then 2)."""
    h = {"run": {"mode": "short", "seed": 1, "nodes": 3, "stream_start": T0,
                 "stream_end": T0 + 30.0},
         "specs": [], "submissions": [], "observations": [], "lines": {}, "final": [],
         "details": {},
         "events": [{"t": T0, "event": "state", "majority": True},
                    {"t": FAULT_AT, "event": "fault", "kind": "pause-leader", "nodes": [1],
                     "leader_fault": True, "old_leader": 1, "old_term": 1, "majority": True},
                    {"t": FAULT_AT + 4, "event": "heal", "kind": "pause-leader",
                     "majority": True}]}
    jobs = []
    for n in range(JOBS):
        token, job_id = f"s1j{n}", f"id{n:03d}"
        code = 3 if n == 7 else 0
        h["specs"].append({"n": n, "key": f"k{n}", "token": token, "steps": 2,
                           "exit_code": code, "output": f"out-{token}\n"})
        t_ack = T0 + 0.5 * (n + 1)
        h["submissions"].append({"n": n, "key": f"k{n}", "token": token, "node": 1,
                                 "t0": t_ack - 0.01, "t1": t_ack, "code": 201,
                                 "job_id": job_id})
        base = 50.0 + n
        attempts = 2 if n == 9 else 1
        lines = []
        for k in range(1, attempts + 1):
            s = base + 2 * (k - 1)
            # The lost attempt has no end line.
            last = ["hb", job_id, str(k), f"{s + 0.2:.2f}"] if k < attempts else [
                "end", job_id, str(k), f"{s + 0.2:.2f}", str(code)]
            lines += [["start", job_id, str(k), f"{s:.2f}", "123"],
                      ["hb", job_id, str(k), f"{s + 0.1:.2f}"], last]
        h["lines"][token] = lines
        j = job(job_id, token, "failed" if code else "completed", code, attempts)
        jobs.append(j)
        h["details"][job_id] = dict(j, stdout_tail=f"out-{token}\n")
    h["final"] = [copy.deepcopy(jobs) for _ in range(3)]
    t, commit = T0, 1
    while t < T0 + 30:
        for node in (1, 2, 3):
            paused = node == 1 and FAULT_AT <= t < FAULT_AT + 4
            if paused:
                continue
            term = 1 if t < FAULT_AT + ELECTED else 2
            leader = 1 if term == 1 else 2
            h["observations"].append({"t": round(t, 3), "node": node, "inc": 1,
                                      "role": "leader" if node == leader else "follower",
                                      "leader_id": leader, "term": term,
                                      "commit_index": commit})
        t += 0.1
        commit += 1
    return h


def write(h, d):
    os.makedirs(os.path.join(d, "jobs"))
    os.makedirs(os.path.join(d, "final"))
    with open(os.path.join(d, "run.json"), "w") as f:
        json.dump(h["run"], f)
    for name, rows in (("plan", h["events"]), ("specs", h["specs"]),
                       ("submissions", h["submissions"]), ("observations", h["observations"])):
        with open(os.path.join(d, f"{name}.jsonl"), "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
    for token, lines in h["lines"].items():
        with open(os.path.join(d, "jobs", token), "w") as f:
            f.writelines(" ".join(p) + "\n" for p in lines)
    for i, jobs in enumerate(h["final"], 1):
        with open(os.path.join(d, "final", f"node-{i}.json"), "w") as f:
            json.dump({"jobs": jobs}, f)
    with open(os.path.join(d, "final", "details.json"), "w") as f:
        json.dump(h["details"], f)


def on_all_nodes(h, job_id, **changes):
    for jobs in h["final"]:
        for j in jobs:
            if j["id"] == job_id:
                j.update(changes)
    if job_id in h["details"]:
        h["details"][job_id].update(changes)


class CheckerSelfTest(unittest.TestCase):
    fired = set()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="chaos-checker-")
        self.count = 0

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def check(self, h, **flags):
        self.count += 1
        d = os.path.join(self.tmp, str(self.count))
        write(h, d)
        return checker.check(d, **flags)

    def assert_fires(self, rule, doctor, **flags):
        h = clean_history()
        doctor(h)
        r = self.check(h, **flags)
        self.assertIn(rule, r.rules(), f"{rule} did not fire: {r.violations}")
        CheckerSelfTest.fired.add(rule)
        return r

    def test_clean_history_passes(self):
        r = self.check(clean_history(), max_unavailable=1.0)
        self.assertEqual(r.violations, [])
        self.assertEqual(r.metrics["jobs_acknowledged"], JOBS)
        self.assertEqual(r.metrics["faults"], 1)
        self.assertAlmostEqual(r.metrics["election_p50_s"], ELECTED, delta=0.11)
        self.assertLessEqual(r.metrics["longest_unavailable_s"], 0.51)
        self.assertEqual(r.metrics["jobs_run_more_than_once"], 1)

    def test_lost_acknowledged_job(self):
        self.assert_fires("lost", lambda h: h["final"][1].pop(5))

    def test_two_ids_for_one_key(self):
        def doctor(h):
            dup = dict(h["submissions"][3], job_id="other", t1=T0 + 2.01)
            h["submissions"].append(dup)
        self.assert_fires("duplicate-key", doctor)

    def test_two_jobs_carrying_one_token(self):
        def doctor(h):
            for jobs in h["final"]:
                jobs.append(job("extra", "s1j4"))
        self.assert_fires("duplicate-key", doctor)

    def test_job_not_final_after_heal(self):
        self.assert_fires("not-final", lambda h: on_all_nodes(h, "id011", status="running"))

    def test_attempt_started_twice(self):
        def doctor(h):
            h["lines"]["s1j12"].append(["start", "id012", "1", "90.00", "999"])
        self.assert_fires("attempt-twice", doctor)

    def test_overlapping_attempts(self):
        def doctor(h):
            on_all_nodes(h, "id013", attempt=2,
                         attempts=[{"number": 1, "status": "lost"}, {"number": 2}])
            h["lines"]["s1j13"] += [["start", "id013", "2", "63.10", "7"],
                                    ["end", "id013", "2", "63.30", "0"]]
        r = self.assert_fires("overlap", doctor)
        self.assertAlmostEqual(r.metrics["longest_overlap_s"], 0.1, delta=0.001)
        h = clean_history()
        doctor(h)
        allowed = self.check(h, allow_overlap=True)
        self.assertNotIn("overlap", allowed.rules())
        self.assertEqual(allowed.metrics["overlapping_attempts"], 1)

    def test_sequential_attempts_do_not_overlap(self):
        def doctor(h):  # attempt 2 starts in the very tick attempt 1 ended
            h["lines"]["s1j9"][3][3] = h["lines"]["s1j9"][2][3]
        r = self.check((lambda h: (doctor(h), h)[1])(clean_history()))
        self.assertNotIn("overlap", r.rules())

    def test_attempt_the_job_does_not_know(self):
        self.assert_fires("unknown-attempt",
                          lambda h: h["lines"]["s1j14"].append(["start", "id014", "5", "99.0"]))

    def test_wrong_exit_code(self):
        self.assert_fires("outcome", lambda h: on_all_nodes(h, "id007", exit_code=0))

    def test_wrong_status(self):
        self.assert_fires("outcome", lambda h: on_all_nodes(h, "id015", status="failed",
                                                            reason="exit_code"))

    def test_wrong_output(self):
        self.assert_fires("outcome",
                          lambda h: h["details"]["id016"].update(stdout_tail="garbage\n"))

    def test_final_attempt_never_ended(self):
        self.assert_fires("outcome", lambda h: h["lines"]["s1j17"].pop())

    def test_every_attempt_lost(self):
        def doctor(h):
            on_all_nodes(h, "id018", status="failed", reason="lost", exit_code=None)
        self.assert_fires("lost-final", doctor)
        h = clean_history()
        doctor(h)
        self.assertNotIn("lost-final", self.check(h, allow_lost=True).rules())

    def test_two_leaders_in_one_term(self):
        def doctor(h):
            h["observations"].append({"t": T0 + 5, "node": 3, "inc": 1, "role": "leader",
                                      "leader_id": 3, "term": 1, "commit_index": 60})
        self.assert_fires("two-leaders", doctor)

    def test_commit_index_backwards(self):
        def doctor(h):
            h["observations"].append({"t": T0 + 29.95, "node": 2, "inc": 1, "role": "leader",
                                      "leader_id": 2, "term": 2, "commit_index": 3})
        self.assert_fires("commit-back", doctor)

    def test_commit_index_after_restart_is_not_backwards(self):
        h = clean_history()
        h["observations"].append({"t": T0 + 29.95, "node": 3, "inc": 2, "role": "follower",
                                  "leader_id": 2, "term": 2, "commit_index": 0})
        self.assertNotIn("commit-back", self.check(h).rules())

    def test_nodes_disagree(self):
        def doctor(h):
            for j in h["final"][2]:
                if j["id"] == "id020":
                    j["status"], j["exit_code"] = "failed", 1
        self.assert_fires("disagree", doctor)

    def test_node_without_final_list(self):
        h = clean_history()
        d = os.path.join(self.tmp, "missing")
        write(h, d)
        os.remove(os.path.join(d, "final", "node-1.json"))
        self.assertIn("disagree", checker.check(d).rules())

    def test_long_unavailable_window(self):
        def doctor(h):  # nothing acknowledged between 20 s and 24 s
            h["submissions"] = [s for s in h["submissions"]
                                if not T0 + 20 < s["t1"] < T0 + 24]
        r = self.assert_fires("unavailable", doctor, max_unavailable=1.0)
        self.assertAlmostEqual(r.metrics["longest_unavailable_s"], 4.0, delta=0.01)
        h = clean_history()
        doctor(h)
        self.assertNotIn("unavailable", self.check(h).rules())  # reported only

    def test_unavailable_without_majority_is_not_counted(self):
        h = clean_history()
        h["submissions"] = [s for s in h["submissions"] if not T0 + 20 < s["t1"] < T0 + 24]
        h["events"] += [{"t": T0 + 20, "event": "fault", "kind": "split", "majority": False},
                        {"t": T0 + 24, "event": "heal", "kind": "split", "majority": True}]
        r = self.check(h, max_unavailable=1.0)
        self.assertNotIn("unavailable", r.rules())

    def test_node_crashed(self):
        crash = [{"node": 2, "code": -6, "t": T0 + 3}]
        self.assert_fires("crash", lambda h: h["run"].update(crashed=crash))

    def test_no_election_seen(self):
        h = clean_history()
        h["observations"] = [o for o in h["observations"] if o["term"] == 1]
        r = self.check(h)
        self.assertEqual(r.metrics["elections_not_seen"], 1)

    @classmethod
    def tearDownClass(cls):
        # Every rule the checker knows was seen firing by one of the tests above.
        missing = set(checker.RULES) - cls.fired
        if missing:
            raise AssertionError(f"rules never seen firing: {sorted(missing)}")

if __name__ == "__main__":
    unittest.main(verbosity=1)
