#!/usr/bin/python3
"""nomad-lite's hostile-input suite (issue 17, Deliver 6).

A client written apart from the server, from proto/nomad_lite.proto only, starts a three-node
cluster as the README's "Running it safely" recipe does, then feeds it batch by batch what an
outsider and a compromised node would send. After each batch it checks every node's memory,
open fds, liveness and committed jobs; at the end each node must exit within 2 s of SIGTERM.

One line per check (PASS/FAIL, the finding or Deliver item it covers: F1..F9, D2..D6),
then a summary; exit code 1 when any check fails, 2 when the cluster cannot be started.

  tests/hostile/run.py --bin build/nomad-lite --out build/hostile
  tests/hostile/run.py --self-check     # the suite's own helpers, no cluster
"""

import argparse
import os
import random
import resource
import shutil
import signal
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import batches_agents  # noqa: E402
import batches_grpc  # noqa: E402
import batches_http  # noqa: E402
import batches_node  # noqa: E402
import batches_periodic  # noqa: E402
from harness import Cluster, load_stubs, sigterm_and_wait, wait_for  # noqa: E402
from report import Reporter, short  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RSS_HEADROOM_MIB = 48  # a batch may leave a node this much above its memory before the batch
FD_HEADROOM = 32       # and this many more open fds, once the client's connections are gone
# 2,000 TLS connections held at once cost about 70 KiB each (the TLS record buffers of
# OpenSSL and Asio), memory the allocator keeps for the next burst.
# gRPC 1.51 reads a message whole before comparing it with the 16 MiB limit: a client that
# passed the token check and sends 64 MiB messages leaves the node about 100 MiB it keeps for
# reuse (measured: the same after one such message as after three; README, Limits).
# The agents and periodic batches send such messages too (with an agent's certificate, or a
# token): on a node that had not had one yet (run with --only) they cost the same.
RSS_HEADROOM_BY_BATCH = {"connections": 256, "grpc-oversized": 128, "agents": 128,
                         "periodic": 128}
STOP_LIMIT_S = 2.0


class Baseline:
    """Each running node's memory and open fds now."""

    def __init__(self, cluster):
        alive = [n for n in cluster.nodes if n.popen.poll() is None]
        self.rss = {n.id: n.proc.rss_mib() for n in alive}
        self.fds = {n.id: n.proc.fds() for n in alive}


def after_batch(cluster, report, batch, base, known):
    """Every node still serves, costs about what it did before the batch (each batch is judged
    on its own), and holds exactly the jobs the suite knows it created."""
    for n in cluster.nodes:
        if n.popen.poll() is not None:
            report.check("D6", f"after {batch}: node {n.id} running", False,
                         f"exited with {n.popen.returncode}")
            continue
        live = cluster.live(n, timeout=2)
        # On the suite's shared channel, then on a new one: a refusal must be the node's.
        status = cluster.status(n, timeout=2)
        fresh = status is None and cluster.status(n, timeout=2, fresh=True)
        report.check("D6", f"after {batch}: node {n.id} live", live and (status or fresh),
                     f"/health/live {'200' if live else 'no answer'}, GetClusterStatus "
                     + ("answered" if status else "answered on a new channel" if fresh
                        else "no answer within 2 s on the shared channel nor on a new one"))
        rss_before, fds_before = base.rss[n.id], base.fds[n.id]
        headroom = RSS_HEADROOM_BY_BATCH.get(batch, RSS_HEADROOM_MIB)
        # Connections the client closed and memory they held may take a moment to go.
        wait_for(lambda: n.proc.fds() <= fds_before + FD_HEADROOM
                 and n.proc.rss_mib() <= rss_before + headroom, 5)
        fds, rss = n.proc.fds(), n.proc.rss_mib()
        report.check("D3", f"after {batch}: node {n.id} bounded",
                     rss <= rss_before + headroom and fds <= fds_before + FD_HEADROOM,
                     f"RSS {rss:.0f} MiB (before {rss_before:.0f}, +{headroom} allowed), "
                     f"fds {fds} (before {fds_before}, +{FD_HEADROOM} allowed)")

    def agree():
        views = [cluster.list_jobs(n) for n in cluster.nodes if n.popen.poll() is None]
        return all(v is not None and set(v) == set(known) for v in views) and views

    views = wait_for(agree, 5) or [cluster.list_jobs(n) for n in cluster.nodes
                                   if n.popen.poll() is None]
    strangers = set()
    wrong = set()
    for v in views:
        if v is None:
            continue
        strangers |= set(v) - set(known)
        wrong |= {i for i, (_, cmd) in v.items() if i in known and known[i] != cmd}
    missing = set(known) - set().union(*[set(v) for v in views if v is not None])
    report.check("D6", f"after {batch}: committed jobs as expected",
                 views and not strangers and not wrong and not missing,
                 f"{len(known)} jobs known; unknown {sorted(strangers)[:3]}, "
                 f"changed command {sorted(wrong)[:3]}, missing {sorted(missing)[:3]}")


def run(args):
    report = Reporter()
    out = os.path.abspath(args.out)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    # 2,000 client connections plus the nodes' own: the nodes inherit the raised soft limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    pb = load_stubs(os.path.join(REPO, "proto"), os.path.join(out, "stubs"))
    cluster = Cluster(args.bin, out, pb)
    # Stopped from outside (make, a CI timeout): the nodes are killed on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    rng = random.Random(args.seed)
    known = {}
    try:
        try:
            cluster.start()
        except (RuntimeError, OSError) as e:
            print(f"hostile: {e}", file=sys.stderr)
            return 2
        for n in cluster.nodes:  # let each node's first connections settle before measuring
            cluster.live(n)
            cluster.status(n)
        print(f"cluster: nodes {[n.popen.pid for n in cluster.nodes]} gRPC "
              f"{[n.grpc_port for n in cluster.nodes]} HTTPS {[n.http_port for n in cluster.nodes]}"
              f", leader {cluster.leader_id()}; logs in {out}", flush=True)
        sleepers = []
        batches = [
            ("grpc-unparsable", lambda: batches_grpc.unparsable_inputs(cluster, pb, rng, report,
                                                                       known)),
            ("grpc-oversized", lambda: batches_grpc.oversized(cluster, pb, report, known)),
            ("grpc-strict", lambda: batches_grpc.strict_inputs(cluster, pb, report, known)),
            ("http-strict", lambda: batches_http.strict_bodies(cluster, report, known)),
            ("http-oversized", lambda: batches_http.oversized(cluster, report)),
            ("agents", lambda: batches_agents.agents(cluster, pb, rng, report, known)),
            ("periodic", lambda: batches_periodic.periodic(cluster, pb, rng, report, known)),
            ("forged-reports", lambda: sleepers.extend(
                batches_node.forged_reports(cluster, report, known))),
            ("job-secrets", lambda: batches_node.job_secrets(cluster, report, known)),
            ("connections", lambda: batches_http.connections(cluster, report)),
        ]
        for name, batch in batches:
            if args.only and name not in args.only.split(","):
                continue
            started = time.monotonic()
            base = Baseline(cluster)
            print(f"== {name}", flush=True)
            try:
                batch()
            except Exception as e:  # a batch that breaks is a failure, not the end of the run
                report.check("D6", f"{name} ran to its end", False,
                             f"{type(e).__name__}: {e}")
                traceback.print_exc()
            if name == "forged-reports":
                batches_node.cancel_all(cluster, sleepers)
            after_batch(cluster, report, name, base, known)
            print(f"   ({time.monotonic() - started:.1f} s)", flush=True)

        print("== SIGTERM", flush=True)
        for n in cluster.nodes:
            if n.popen.poll() is not None:
                report.check("F2", f"SIGTERM node {n.id}", False,
                             f"had exited already ({n.popen.returncode})")
                continue
            took = sigterm_and_wait(n, STOP_LIMIT_S)
            report.check("F2", f"SIGTERM node {n.id} exits within {STOP_LIMIT_S:.0f} s",
                         took is not None,
                         f"exit {n.popen.returncode} after {took:.2f} s" if took is not None
                         else "still running (SIGKILL follows)")
            if took is not None:
                # 0: every part stopped in time; anything else: something had to be cut short.
                report.check("F2", f"SIGTERM node {n.id} stops cleanly", n.popen.returncode == 0,
                             f"exit code {n.popen.returncode}; last log line: "
                             f"{short(n.log_lines()[-1] if n.log_lines() else '', 160)}")
    finally:
        cluster.kill_all()
    return 0 if report.summary() else 1


def self_check():
    """The suite's own helpers on known inputs: what an HTTP answer parses to, and that the
    garbage it sends never parses as a protobuf message."""
    from harness import answer_complete, parse_http_answer
    failures = 0

    def expect(what, got, want):
        nonlocal failures
        if got != want:
            failures += 1
            print(f"self-check FAIL {what}: got {got!r}, want {want!r}")

    status, headers, body = parse_http_answer(
        b"HTTP/1.1 404 Not Found\r\nContent-Type: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    expect("status", status, 404)
    expect("header", headers.get("content-type"), "x")
    expect("chunked body", body, b"abcde")
    expect("no answer", parse_http_answer(b""), (0, {}, b""))
    expect("whole by length", answer_complete(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab"),
           True)
    expect("short of length", answer_complete(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab"),
           False)
    expect("last chunk", answer_complete(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                         b"2\r\nab\r\n0\r\n\r\n"), True)
    expect("short message", batches_grpc.names("bad page token '-1'", "page_token"), True)
    expect("other field", batches_grpc.names("bad status", "page_token"), False)
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        pb = load_stubs(os.path.join(REPO, "proto"), tmp)
        rng = random.Random(1)
        for _ in range(100):
            try:
                pb.SubmitJobRequest.FromString(batches_grpc.garbage(rng))
                expect("garbage refused by the parser", "parsed", "refused")
            except Exception:  # google.protobuf.message.DecodeError
                pass
        try:
            pb.SubmitJobRequest.FromString(batches_grpc.truncated(pb))
            expect("truncated refused by the parser", "parsed", "refused")
        except Exception:
            pass
    print("self-check:", "ok" if not failures else f"{failures} failed")
    return 0 if not failures else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", default=os.path.join(REPO, "build/nomad-lite"))
    parser.add_argument("--out", default=os.path.join(REPO, "build/hostile"))
    parser.add_argument("--seed", type=int, default=17, help="seeds the random bytes sent")
    parser.add_argument("--only", default="", help="comma-separated batch names to run")
    parser.add_argument("--self-check", action="store_true")
    args = parser.parse_args()
    if args.self_check:
        return self_check()
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
