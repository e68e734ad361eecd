#!/usr/bin/python3
"""Health checking, server reflection and JSON logs of real nomad-lite nodes, seen from a
client that knows nothing of proto/nomad_lite.proto (Debian's python3-grpcio and
python3-protobuf only).

- Reflection: lists the services, fetches the file descriptors, builds the message classes
  from them (descriptor_pool, message_factory) and calls a read method and a submit.
- Health (grpc.health.v1, messages encoded by hand): a node of a 3-node cluster reports
  SERVING once a leader exists; the node left alone when its two peers stop goes NOT_SERVING,
  seen by Check (polled with a deadline) and by an open Watch.
- Twice: a plain cluster started with --log-format json (every line of every node's log must
  be a JSON object with time, level, node, msg, and the job's life must be there, once, with
  its id), then a cluster with TLS and tokens (health and reflection without a token, the
  calls with one; without one a call is refused).
- A bad --log-format is refused with a message naming the flag.

  tests/probes/run.py --bin build/nomad-lite --out build/probes
Exit code 1 when a check fails; one PASS/FAIL line per check.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

import grpc

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TESTS, "support"))
from checks import check, finish  # noqa: E402
from local_cluster import LocalCluster  # noqa: E402
from localhost import free_ports, wait_for  # noqa: E402
from reflection import (HEALTH_WATCH, NOT_SERVING, SCHEDULER, SERVING,  # noqa: E402
                        ReflectedService, field_bytes, health_status, list_services,
                        parse_fields)


def start_cluster(binary, out, secure):
    """3 nodes with JSON logs (every line of them is checked)."""
    cluster = LocalCluster(binary, out, secure,
                           server_args=["--log-format", "json", "--worker-slots", "2"])
    cluster.bootstrap()
    return cluster


# --- the checks -----------------------------------------------------------------------------

def check_reflection(cluster, label, leader):
    services = list_services(cluster, leader)
    check(f"{label}: reflection lists the services", SCHEDULER in services and
          "grpc.health.v1.Health" in services and
          "grpc.reflection.v1alpha.ServerReflection" in services, str(services))
    svc = ReflectedService(cluster, leader, SCHEDULER)
    methods = svc.method_names()
    check(f"{label}: the descriptors name SubmitJob and GetClusterStatus",
          "SubmitJob" in methods and "GetClusterStatus" in methods, str(methods))
    status = svc.call("GetClusterStatus", "read")
    check(f"{label}: GetClusterStatus through reflected messages names the leader",
          status.leader_id == leader, str(status))
    submitted = svc.call("SubmitJob", "submit", command="echo reflected", wait_ms=20000)
    job = submitted.job
    check(f"{label}: SubmitJob through reflected messages ran the job",
          submitted.done and job.id and
          job.status == svc.pool.FindEnumTypeByName("nomad_lite.JobStatus")
          .values_by_name["JOB_STATUS_COMPLETED"].number and job.stdout_tail == b"reflected\n",
          str(submitted))
    read = svc.call("GetJobStatus", "read", job_id=job.id)
    check(f"{label}: GetJobStatus reads the job back", read.job.id == job.id, str(read))
    if cluster.secure:
        try:
            svc.call("GetClusterStatus", None)
            refused = None
        except grpc.RpcError as e:
            refused = e.code()
        check(f"{label}: without a token GetClusterStatus is refused",
              refused == grpc.StatusCode.UNAUTHENTICATED, str(refused))
    return job.id


def check_health_until_alone(cluster, label, leader):
    others = [i for i in (1, 2, 3) if i != leader]
    for service, want in (("", SERVING), (SCHEDULER, SERVING),
                          ("nomad_lite.RaftService", SERVING)):
        got = health_status(cluster, leader, service)
        check(f"{label}: Check('{service}') on the leader is {want}", got == want, str(got))
    got = health_status(cluster, leader, "no.such.Service")
    check(f"{label}: Check of an unknown service is NOT_FOUND",
          got == grpc.StatusCode.NOT_FOUND, str(got))
    # A Watch opened now reports SERVING, then NOT_SERVING once the node is alone.
    watch = cluster.channel(leader).unary_stream(HEALTH_WATCH)(
        field_bytes(1, ""), timeout=20, wait_for_ready=True)
    first = dict(parse_fields(next(watch))).get(1, 0)
    check(f"{label}: Watch first reports SERVING", first == SERVING, str(first))
    for i in others:
        cluster.stop(i)
    start = time.monotonic()
    alone = wait_for(lambda: health_status(cluster, leader) == NOT_SERVING, 10)
    check(f"{label}: with both peers stopped, Check goes NOT_SERVING", alone,
          f"still {health_status(cluster, leader)} after 10 s")
    if alone:
        print(f"     (NOT_SERVING {time.monotonic() - start:.2f} s after the peers stopped)")
    seen = []
    try:
        for answer in watch:
            seen.append(dict(parse_fields(answer)).get(1, 0))
            if seen[-1] == NOT_SERVING:
                break
    except grpc.RpcError as e:
        seen.append(e.code())
    watch.cancel()
    check(f"{label}: Watch reports NOT_SERVING", seen and seen[-1] == NOT_SERVING, str(seen))
    check(f"{label}: the Raft service still serves when alone",
          health_status(cluster, leader, "nomad_lite.RaftService") == SERVING)


RFC3339_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def check_json_logs(cluster, label, job_id):
    bad, lifecycle = [], {}
    for i, path in cluster.logs.items():
        with open(path, "rb") as f:
            for n, raw in enumerate(f.read().splitlines(), 1):
                try:
                    obj = json.loads(raw)
                except ValueError:
                    bad.append(f"node {i} line {n}: {raw[:120]!r}")
                    continue
                if (not isinstance(obj, dict) or not {"time", "level", "node", "msg"} <= obj.keys()
                        or not RFC3339_MS.match(str(obj["time"])) or obj["node"] != i):
                    bad.append(f"node {i} line {n}: {raw[:120]!r}")
                    continue
                if obj.get("job_id") == job_id:
                    lifecycle.setdefault(obj["msg"], []).append(i)
    check(f"{label}: every log line is a JSON object with time, level, node, msg", not bad,
          "; ".join(bad[:3]))
    for step in ("job submitted", "job placed", "job started", "job completed"):
        check(f"{label}: '{step}' logged once with the job id", len(lifecycle.get(step, [])) == 1,
              str(lifecycle))


def run_cluster(binary, out, secure):
    label = "tls+tokens" if secure else "plain"
    cluster = start_cluster(binary, os.path.join(out, label), secure)
    try:
        started = time.monotonic()
        serving = wait_for(lambda: [i for i in (1, 2, 3) if health_status(cluster, i) == SERVING]
                           == [1, 2, 3], 20)
        if not check(f"{label}: every node reports SERVING once a leader exists", serving,
                     f"logs in {cluster.out}"):
            return
        print(f"     (all SERVING {time.monotonic() - started:.2f} s after start)")
        # The leader as the reflected GetClusterStatus would tell; asked of node 1 here. Polled:
        # on a loaded machine an election can start between the health checks and this call,
        # and until it ends node 1 names no leader (0).
        svc = ReflectedService(cluster, 1, SCHEDULER)
        leaders = []
        named = wait_for(lambda: leaders.append(svc.call("GetClusterStatus", "read").leader_id)
                         or leaders[-1] in (1, 2, 3), 20)
        if not check(f"{label}: GetClusterStatus on node 1 names a leader", named,
                     f"answers {leaders[-5:]}; logs in {cluster.out}"):
            return
        leader = leaders[-1]
        job_id = check_reflection(cluster, label, leader)
        check_health_until_alone(cluster, label, leader)
    finally:
        cluster.stop_all()
    if not secure:
        check_json_logs(cluster, label, job_id)


def check_bad_log_format(binary, out):
    r = subprocess.run([binary, "server", "--node-id", "1", "--port", str(free_ports(1)[0]),
                        "--data-dir", os.path.join(out, "bad-format"), "--log-format", "yaml"],
                       capture_output=True, text=True, timeout=10)
    check("--log-format yaml is refused with exit code 2 and a message naming the flag",
          r.returncode == 2 and "--log-format" in r.stderr and "text or json" in r.stderr,
          f"exit {r.returncode}: {r.stderr.strip()}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    binary, out = os.path.abspath(args.bin), os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    check_bad_log_format(binary, out)
    for secure in (False, True):
        run_cluster(binary, out, secure)
    return finish(out)


if __name__ == "__main__":
    sys.exit(main())
