#!/usr/bin/python3
"""Read-your-writes, linearizable reads and leadership transfer on real nomad-lite nodes, seen
from a Python client (Debian's python3-grpcio and python3-protobuf; message classes come from
server reflection, no copy of our proto).

- The bug of issue 20: a job submitted on the leader, then at once GetJobStatus and WaitJob on
  a follower, many times: never NOT_FOUND (a follower that has not applied the job yet confirms
  through a ReadIndex that it is committed, and waits to apply it).
- Every write answers with the index it committed at; a read with that min_index answers at an
  applied index at least as high; a min_index far ahead fails with UNAVAILABLE within its bound.
- consistent reads on a follower see a job acknowledged just before; the CLI's --consistent.
- TransferLeadership: to a given voter, to the most up-to-date follower, refused for a
  non-voter; `cluster transfer-leader` from the CLI; with tokens only the operator role may.
- SIGTERM to the leader hands leadership on first: the others know a new leader far sooner
  than an election timeout (150 ms).

  tests/reads/run.py --bin build/nomad-lite --out build/reads
Exit code 1 when a check fails; one PASS/FAIL line per check.
"""

import argparse
import datetime
import os
import signal
import sys
import time

import grpc

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TESTS, "support"))
from checks import check, finish  # noqa: E402
from local_cluster import LocalCluster  # noqa: E402
from localhost import wait_for  # noqa: E402
from reflection import SCHEDULER, SERVING, ReflectedService, health_status  # noqa: E402

ELECTION_TIMEOUT_S = 0.150  # the server's default --election-timeout


def status_of(cluster, i, timeout=1):
    try:
        return cluster.svc[i].call("GetClusterStatus", "read")
    except grpc.RpcError:
        return None


def leader_of(cluster, nodes):
    """The leader every node in `nodes` names, if they agree on one."""
    seen = set()
    for i in nodes:
        s = status_of(cluster, i)
        if s is None or s.leader_id == 0:
            return 0
        seen.add(s.leader_id)
    return seen.pop() if len(seen) == 1 else 0


def call(cluster, i, method, role="submit", **fields):
    return cluster.svc[i].call(method, role, **fields)


def error_code(fn):
    try:
        fn()
        return grpc.StatusCode.OK, ""
    except grpc.RpcError as e:
        return e.code(), e.details()


def start(binary, out, secure):
    cluster = LocalCluster(binary, out, secure, server_args=["--worker-slots", "2"])
    cluster.bootstrap()
    ok = wait_for(lambda: all(health_status(cluster, i) == SERVING for i in (1, 2, 3)), 20)
    if not ok:
        cluster.stop_all()
        raise RuntimeError(f"the cluster did not come up (logs in {out})")
    cluster.svc = {i: ReflectedService(cluster, i, SCHEDULER) for i in (1, 2, 3)}
    return cluster


def check_read_your_writes(cluster, rounds, budget_s):
    leader = wait_for(lambda: leader_of(cluster, (1, 2, 3)), 10)
    followers = [i for i in (1, 2, 3) if i != leader]
    not_found, done_rounds, index_ok = [], 0, True
    deadline = time.monotonic() + budget_s
    for n in range(rounds):
        if time.monotonic() > deadline:
            break
        submitted = call(cluster, leader, "SubmitJob", command=f"echo ryw {n}")
        job_id = submitted.job.id
        index_ok = index_ok and submitted.index > 0
        follower = followers[n % 2]
        code, detail = error_code(lambda: call(cluster, follower, "GetJobStatus", "read",
                                               job_id=job_id))
        if code != grpc.StatusCode.OK:
            not_found.append(f"GetJobStatus on node {follower}: {code.name} {detail}")
        code, detail = error_code(lambda: call(cluster, followers[(n + 1) % 2], "WaitJob", "read",
                                               job_id=job_id, timeout_ms=1))
        if code != grpc.StatusCode.OK:
            not_found.append(f"WaitJob on node {followers[(n + 1) % 2]}: {code.name} {detail}")
        done_rounds += 1
    check(f"read-your-writes: {done_rounds} submissions on the leader, each read at once on a "
          "follower (GetJobStatus and WaitJob): never NOT_FOUND",
          done_rounds >= min(rounds, 50) and not not_found, "; ".join(not_found[:3]))
    check("every SubmitJob answer carries the index it committed at", index_ok)

    submitted = call(cluster, leader, "SubmitJob", command="echo min index")
    got = call(cluster, followers[0], "GetJobStatus", "read", job_id=submitted.job.id,
               min_index=submitted.index)
    check("GetJobStatus with min_index answers at an applied index at least as high",
          got.index >= submitted.index, f"{got.index} < {submitted.index}")
    listed = call(cluster, followers[1], "ListJobs", "read", min_index=submitted.index)
    check("ListJobs with min_index holds the job written at that index",
          any(j.id == submitted.job.id for j in listed.jobs) and listed.index >= submitted.index)
    started = time.monotonic()
    code, detail = error_code(lambda: call(cluster, followers[0], "GetJobStatus", "read",
                                           job_id=submitted.job.id,
                                           min_index=submitted.index + 1_000_000))
    took = time.monotonic() - started
    check("a min_index this node cannot reach fails with UNAVAILABLE, bounded, naming the index",
          code == grpc.StatusCode.UNAVAILABLE and str(submitted.index + 1_000_000) in detail
          and took < 8, f"{code} after {took:.1f}s: {detail}")

    submitted = call(cluster, leader, "SubmitJob", command="echo consistent")
    listed = call(cluster, followers[0], "ListJobs", "read", consistent=True)
    check("a consistent ListJobs on a follower sees the job acknowledged just before",
          any(j.id == submitted.job.id for j in listed.jobs))
    code, _ = error_code(lambda: call(cluster, followers[1], "GetJobStatus", "read",
                                      job_id="no-such-job", consistent=True))
    check("a consistent GetJobStatus of an unknown job is NOT_FOUND",
          code == grpc.StatusCode.NOT_FOUND, str(code))
    return submitted.job.id


def cli(cluster, i, *args, token_role=None):
    """The CLI against node i alone: (exit code, stdout, stderr)."""
    return cluster.cli(list(args), node=i, role=token_role, output=None)


def check_transfer(cluster, label, role="operator"):
    leader = wait_for(lambda: leader_of(cluster, (1, 2, 3)), 10)
    target = next(i for i in (1, 2, 3) if i != leader)
    answer = call(cluster, leader, "TransferLeadership", role, to=target)
    agreed = wait_for(lambda: leader_of(cluster, (1, 2, 3)) == target, 5)
    check(f"{label}: TransferLeadership to node {target} answers with it as the new leader",
          answer.leader_id == target and answer.previous_leader_id == leader and agreed,
          str(answer))
    code, detail = error_code(lambda: call(cluster, target, "TransferLeadership", role, to=9))
    check(f"{label}: a transfer to a node that is not a voter is INVALID_ARGUMENT, naming it",
          code == grpc.StatusCode.INVALID_ARGUMENT and "9" in detail, f"{code}: {detail}")
    answer = call(cluster, target, "TransferLeadership", role)
    check(f"{label}: TransferLeadership without a target picks a follower",
          answer.leader_id not in (0, target), str(answer))
    new_leader = wait_for(lambda: leader_of(cluster, (1, 2, 3)), 5)
    follower = next(i for i in (1, 2, 3) if i != new_leader)
    other = next(i for i in (1, 2, 3) if i not in (new_leader, follower))
    rc, out, err = cli(cluster, follower, "cluster", "transfer-leader", "--to", str(other),
                       token_role="operator")
    check(f"{label}: `cluster transfer-leader --to {other}` sent to a follower moves leadership",
          rc == 0 and f"to node {other}" in out and
          wait_for(lambda: leader_of(cluster, (1, 2, 3)) == other, 5),
          f"exit {rc}: {out} {err}")
    rc, _, err = cli(cluster, follower, "job", "list", "--consistent", "-o", "json",
                     token_role="read")
    check(f"{label}: `job list --consistent` on a follower answers", rc == 0, err)


def check_tokens(cluster):
    leader = wait_for(lambda: leader_of(cluster, (1, 2, 3)), 10)
    code, _ = error_code(lambda: call(cluster, leader, "TransferLeadership", "submit"))
    check("tokens: a submit token may not transfer leadership (PERMISSION_DENIED)",
          code == grpc.StatusCode.PERMISSION_DENIED, str(code))
    rc, out, _ = cli(cluster, leader, "cluster", "transfer-leader", token_role="submit")
    check("tokens: the CLI with a submit token is refused", rc != 0, out)


def log_time(path, text, after=None):
    """The time of the first line of the node log at `path` holding `text` (after `after`
    when given), or None."""
    with open(path) as f:
        for line in f:
            if text not in line:
                continue
            try:
                at = datetime.datetime.strptime(line.split(" ", 1)[0], "%Y-%m-%dT%H:%M:%S.%f")
            except ValueError:
                continue
            if after is None or at >= after:
                return at
    return None


def check_sigterm_handoff(cluster):
    leader = wait_for(lambda: leader_of(cluster, (1, 2, 3)), 10)
    others = [i for i in (1, 2, 3) if i != leader]
    before = {i: status_of(cluster, i).term for i in others}
    cluster.procs[leader].send_signal(signal.SIGTERM)
    sent = time.monotonic()

    def new_leader():
        for i in others:
            s = status_of(cluster, i, timeout=0.5)
            if s and s.leader_id not in (0, leader) and s.term > before[i]:
                return s.leader_id
        return 0

    elected = wait_for(new_leader, 5, interval=0.002)
    seen = time.monotonic() - sent
    cluster.procs[leader].wait(5)
    # Timed by the nodes' own log lines (one clock, this host's): a client polling for the
    # new leader adds its own delays, hundreds of ms on a loaded machine.
    stopping = log_time(cluster.logs[leader], "received SIGTERM")
    leads = log_time(cluster.logs[elected], f"node {elected}: leader in term",
                     after=stopping) if elected and stopping else None
    took = (leads - stopping).total_seconds() if leads else None
    check(f"SIGTERM to leader node {leader}: node {elected} leads "
          f"{took * 1000 if took is not None else -1:.0f} ms later by their logs (a client saw "
          f"it after {seen * 1000:.0f} ms), well under the {ELECTION_TIMEOUT_S * 1000:.0f} ms "
          f"election timeout", took is not None and took < ELECTION_TIMEOUT_S,
          f"from {stopping} to {leads}")
    with open(cluster.logs[leader]) as f:
        log = f.read()
    check("the stopped leader logged the hand-off", "handed leadership to node" in log,
          log[-500:])
    return took


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", default="build/nomad-lite")
    parser.add_argument("--out", default="build/reads")
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    binary = os.path.abspath(args.bin)
    cluster = start(binary, os.path.join(os.path.abspath(args.out), "plain"), secure=False)
    try:
        check_read_your_writes(cluster, args.rounds, budget_s=60)
        check_transfer(cluster, "plain")
        check_sigterm_handoff(cluster)
    finally:
        cluster.stop_all()
    cluster = start(binary, os.path.join(os.path.abspath(args.out), "secure"), secure=True)
    try:
        check_tokens(cluster)
        check_transfer(cluster, "TLS and tokens")
    finally:
        cluster.stop_all()
    return finish(os.path.abspath(args.out))


if __name__ == "__main__":
    sys.exit(main())
