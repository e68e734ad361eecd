#!/usr/bin/env python3
"""GET /metrics under a real Prometheus server (Debian's `prometheus` and `promtool`).

A 3-node cluster on free 127.0.0.1 ports with a token file, scraped every second by a
Prometheus started here (its own config and a temporary storage directory, on a 127.0.0.1
port, killed at the end) with a token of the `metrics` role. Checks, each one PASS or FAIL line:
- a node's /metrics passes `promtool check metrics`;
- /metrics needs a token; the metrics role and the read role may scrape, the metrics role may
  do nothing else (REST 403, gRPC PERMISSION_DENIED);
- through Prometheus's HTTP API: up == 1 for all three targets, nomad_lite_jobs_submitted_total
  moved on every node after jobs were submitted, and every node's fsync histogram counted;
- the leader is killed while Prometheus scrapes: its target goes down (up == 0), a new leader
  shows, both survivors count a leader change, and their fsync p99 is visible;
- the alert rules of packaging/prometheus/alerts.yml load into that Prometheus and every
  expression of packaging/grafana/nomad-lite.json is valid PromQL there.
Usage: prometheus_test.py --bin build/nomad-lite [--out DIR]; exit 0 when every check passed.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TESTS, "support"))
from localhost import free_ports, wait_for  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOKENS = {role: f"{role}-token-{'x' * 24}" for role in ("metrics", "read", "submit", "operator")}
JOBS = 5

failures = []


def check(name, ok, detail=""):
    print(f"{'PASS' if ok else 'FAIL'} {name}{'' if ok else ': ' + detail}", flush=True)
    if not ok:
        failures.append(name)


def http(url, token=None, body=None, timeout=5):
    """(status, body text); status 0 when the server did not answer."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except (urllib.error.URLError, OSError):
        return 0, ""


class Cluster:
    def __init__(self, binary, out):
        self.binary, self.out = binary, out
        self.procs, self.http_ports, self.grpc_ports = [], [], []

    def start(self):
        token_file = os.path.join(self.out, "tokens")
        with open(token_file, "w") as f:
            for role, token in TOKENS.items():
                f.write(f"{role} {token}\n")
        os.chmod(token_file, 0o600)
        ports = free_ports(6)
        self.grpc_ports, self.http_ports = ports[:3], ports[3:]
        for i in (1, 2, 3):
            peers = ",".join(f"{j}:127.0.0.1:{self.grpc_ports[j - 1]}" for j in (1, 2, 3) if j != i)
            args = [self.binary, "server", "--node-id", str(i), "--port",
                    str(self.grpc_ports[i - 1]), "--dashboard-port", str(self.http_ports[i - 1]),
                    "--peers", peers, "--data-dir", os.path.join(self.out, f"data-{i}"),
                    "--token-file", token_file, "--worker-slots", "2"]
            with open(os.path.join(self.out, f"node-{i}.log"), "wb") as log:
                self.procs.append(subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                                   stdin=subprocess.DEVNULL, cwd=self.out))

    def ready(self):
        return all(http(f"http://127.0.0.1:{p}/health/ready")[0] == 200 for p in self.http_ports)

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()


class Prometheus:
    def __init__(self, out, targets):
        self.out = out
        self.port = free_ports(1)[0]
        token_path = os.path.join(out, "scrape-token")
        with open(token_path, "w") as f:
            f.write(TOKENS["metrics"])
        shutil.copy(os.path.join(ROOT, "packaging/prometheus/alerts.yml"), out)
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s",
                       "scrape_timeout": "900ms"},
            "rule_files": ["alerts.yml"],
            "scrape_configs": [{
                "job_name": "nomad-lite",
                "authorization": {"type": "Bearer", "credentials_file": token_path},
                "static_configs": [{"targets": targets}],
            }],
        }
        self.config_path = os.path.join(out, "prometheus.yml")
        with open(self.config_path, "w") as f:
            json.dump(config, f)  # JSON is YAML
        self.proc = None

    def start(self):
        storage = os.path.join(self.out, "tsdb")
        with open(os.path.join(self.out, "prometheus.log"), "wb") as log:
            self.proc = subprocess.Popen(
                ["prometheus", f"--config.file={self.config_path}",
                 f"--storage.tsdb.path={storage}",
                 f"--web.listen-address=127.0.0.1:{self.port}"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.out)

    def api(self, path, **params):
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        status, body = http(url)
        try:
            return json.loads(body) if status else None
        except ValueError:
            return None

    def query(self, expr):
        """{instance: value} of an instant query; None when the query failed."""
        answer = self.api("query", query=expr)
        if not answer or answer.get("status") != "success":
            return None
        return {r["metric"].get("instance", ""): float(r["value"][1])
                for r in answer["data"]["result"]}

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def grpc_code_with(port, token):
    """The gRPC status name of GetClusterStatus called with `token`."""
    try:
        import grpc
    except ImportError:
        return "no grpc module: run this with Debian's /usr/bin/python3 (python3-grpcio)"
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary("/nomad_lite.SchedulerService/GetClusterStatus",
                                   request_serializer=None, response_deserializer=None)
        try:
            call(b"", timeout=5, metadata=[("authorization", f"Bearer {token}")],
                 wait_for_ready=True)
            return "OK"
        except grpc.RpcError as e:
            return e.code().name


def dashboard_expressions():
    with open(os.path.join(ROOT, "packaging/grafana/nomad-lite.json")) as f:
        dashboard = json.load(f)
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], (target["expr"].replace("$__rate_interval", "10s")
                                   .replace('"$job"', '".*"'))


def kill_the_leader_while_scraped(cluster, prometheus):
    """SIGKILLs the leader; Prometheus must see it down, a new leader, leader changes counted on
    the survivors and the fsync latency of the writes that follow."""
    leaders = prometheus.query("nomad_lite_raft_is_leader == 1")
    check("Prometheus names the leader", leaders is not None and len(leaders) == 1, f"{leaders}")
    if failures:
        return
    old = next(iter(leaders))
    index = [f"127.0.0.1:{p}" for p in cluster.http_ports].index(old)
    changes = prometheus.query("nomad_lite_raft_leader_changes_total")
    cluster.procs[index].kill()
    cluster.procs[index].wait()

    down = wait_for(lambda: prometheus.query(f'up{{instance="{old}"}}') == {old: 0.0}, 20)
    check("Prometheus sees the killed leader down (up == 0)", down,
          f"up = {prometheus.query('up')}")
    new_leader = wait_for(lambda: (lambda v: v if v and len(v) == 1 and old not in v else None)(
        prometheus.query('nomad_lite_raft_is_leader == 1 and on(instance) up == 1')), 20)
    check("Prometheus sees a new leader among the survivors", bool(new_leader),
          f"{prometheus.query('nomad_lite_raft_is_leader')}")
    survivors = [t for t in changes if t != old]
    counted = wait_for(lambda: (lambda v: v if v and all(
        v.get(t, 0) > changes[t] for t in survivors) else None)(
            prometheus.query("nomad_lite_raft_leader_changes_total")), 20)
    check("both survivors counted a leader change", bool(counted),
          f"before {changes}, now {prometheus.query('nomad_lite_raft_leader_changes_total')}")

    port = cluster.http_ports[(index + 1) % 3]
    accepted = sum(http(f"http://127.0.0.1:{port}/api/jobs", TOKENS["submit"],
                        {"command": f"echo after-kill-{i}"}, timeout=10)[0] == 201
                   for i in range(JOBS))
    check("the survivors accept jobs", accepted == JOBS, f"{accepted} of {JOBS} answered 201")
    p99 = "histogram_quantile(0.99, rate(nomad_lite_raft_wal_fsync_duration_seconds_bucket[15s]))"
    visible = wait_for(lambda: (lambda v: v if v and all(
        t in v and v[t] == v[t] and v[t] > 0 for t in survivors) else None)(
            prometheus.query(p99)), 20)  # v == v: not NaN
    check("the survivors' fsync p99 is visible after the kill", bool(visible),
          f"{prometheus.query(p99)}")


def run(binary, out):
    cluster = Cluster(binary, out)
    cluster.start()
    prometheus = None
    try:
        check("the cluster elects a leader", wait_for(cluster.ready, 30),
              f"no leader within 30 s (logs in {out})")
        if failures:
            return
        base = f"http://127.0.0.1:{cluster.http_ports[0]}"

        status, text = http(base + "/metrics", TOKENS["metrics"])
        check("a metrics token scrapes /metrics", status == 200 and "nomad_lite_raft_term" in text,
              f"HTTP {status}")
        with open(os.path.join(out, "node-1.metrics"), "w") as f:
            f.write(text)
        lint = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                              capture_output=True)
        check("promtool check metrics accepts a node's /metrics", lint.returncode == 0,
              (lint.stdout + lint.stderr).strip())
        check("/metrics without a token is 401", http(base + "/metrics")[0] == 401)
        check("a read token scrapes /metrics too", http(base + "/metrics", TOKENS["read"])[0] == 200)
        check("a metrics token may not list jobs (403)",
              http(base + "/api/jobs", TOKENS["metrics"])[0] == 403)
        check("a metrics token may not submit (403)",
              http(base + "/api/jobs", TOKENS["metrics"], {"command": "true"})[0] == 403)
        code = grpc_code_with(cluster.grpc_ports[0], TOKENS["metrics"])
        check("a metrics token gets PERMISSION_DENIED on gRPC", code == "PERMISSION_DENIED",
              f"got {code}")
        code = grpc_code_with(cluster.grpc_ports[0], TOKENS["read"])
        check("a read token still gets its answer on gRPC", code == "OK", f"got {code}")

        targets = [f"127.0.0.1:{p}" for p in cluster.http_ports]
        prometheus = Prometheus(out, targets)
        prometheus.start()
        up = wait_for(lambda: (lambda v: v if v and len(v) == 3 and all(x == 1 for x in v.values())
                               else None)(prometheus.query('up{job="nomad-lite"}')), 30)
        check("Prometheus sees up == 1 for all three nodes", bool(up),
              f"up = {prometheus.query('up')} (logs in {out})")
        if failures:
            return
        before = prometheus.query("nomad_lite_jobs_submitted_total")
        check("Prometheus has nomad_lite_jobs_submitted_total of every node",
              before is not None and len(before) == 3, f"{before}")
        if failures:
            return
        submitted = 0
        for i in range(JOBS):
            port = cluster.http_ports[i % 3]  # followers forward to the leader
            status, body = http(f"http://127.0.0.1:{port}/api/jobs", TOKENS["submit"],
                                {"command": f"echo metrics-{i}"}, timeout=10)
            submitted += status == 201
        check(f"{JOBS} jobs submitted", submitted == JOBS, f"{submitted} answered 201")
        moved = wait_for(lambda: (lambda v: v if v and len(v) == 3 and all(
            v[t] >= before[t] + JOBS for t in before) else None)(
                prometheus.query("nomad_lite_jobs_submitted_total")), 20)
        check("nomad_lite_jobs_submitted_total moved by the jobs on every node", bool(moved),
              f"before {before}, now {prometheus.query('nomad_lite_jobs_submitted_total')}")
        fsyncs = prometheus.query("nomad_lite_raft_wal_fsync_duration_seconds_count > 0")
        check("every node's fsync histogram counted", fsyncs is not None and len(fsyncs) == 3,
              f"{fsyncs}")
        finished = wait_for(lambda: (lambda v: v if v and sum(v.values()) >= 3 * JOBS else None)(
            prometheus.query('nomad_lite_jobs_finished_total{status="completed"}')), 20)
        check("every node counted the jobs completed", bool(finished),
              f"{prometheus.query('nomad_lite_jobs_finished_total')}")
        grpc_refused = prometheus.query(
            'nomad_lite_grpc_requests_total{method="nomad_lite.SchedulerService/GetClusterStatus"'
            ',code="PERMISSION_DENIED"}')
        check("the refused gRPC call was counted by method and code",
              grpc_refused is not None and sum(grpc_refused.values()) >= 1, f"{grpc_refused}")
        posts = prometheus.query(
            'sum(nomad_lite_http_requests_total{route="POST /api/jobs",code="201"})')
        check("the REST submissions were counted by route and code",
              posts is not None and posts.get("", 0) >= JOBS, f"{posts}")
        # Polled: under load an election may briefly leave two nodes that think they lead.
        leader = wait_for(lambda: prometheus.query("sum(nomad_lite_raft_is_leader)") == {"": 1.0},
                          10)
        check("exactly one node reports itself leader", leader,
              f"{prometheus.query('nomad_lite_raft_is_leader')}")

        kill_the_leader_while_scraped(cluster, prometheus)

        rules = prometheus.api("rules")
        names = sorted(r["name"] for g in (rules or {}).get("data", {}).get("groups", [])
                       for r in g["rules"] if r.get("health") != "err")
        check("the four alert rules load and evaluate", names == sorted([
            "NomadLiteFsyncSlow", "NomadLiteJobsLost", "NomadLiteLeaderFlapping",
            "NomadLiteNoLeader"]), f"{names}")
        bad = [(title, expr) for title, expr in dashboard_expressions()
               if prometheus.query(expr) is None]
        check("every expression of the Grafana dashboard is valid PromQL", not bad, f"{bad}")
    finally:
        if prometheus:
            prometheus.stop()
        cluster.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", required=True, help="the nomad-lite binary")
    parser.add_argument("--out", help="where logs go (default: a temporary directory, removed "
                        "when every check passed)")
    args = parser.parse_args()
    for tool in ("prometheus", "promtool"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: install Debian's prometheus package (make deps)")
    out = os.path.abspath(args.out) if args.out else tempfile.mkdtemp(prefix="nomad-metrics-")
    os.makedirs(out, exist_ok=True)
    started = time.monotonic()
    run(os.path.abspath(args.bin), out)
    print(f"{'FAILED' if failures else 'passed'} in {time.monotonic() - started:.1f} s; "
          f"logs in {out}" if failures or args.out else
          f"passed in {time.monotonic() - started:.1f} s")
    if failures:
        sys.exit(1)
    if not args.out:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
