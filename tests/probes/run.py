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
import shutil
import signal
import subprocess
import sys
import time

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TESTS, "support"))
from localhost import free_ports, wait_for  # noqa: E402

REFLECTION = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
HEALTH_CHECK = "/grpc.health.v1.Health/Check"
HEALTH_WATCH = "/grpc.health.v1.Health/Watch"
SERVING, NOT_SERVING = 1, 2
SCHEDULER = "nomad_lite.SchedulerService"

failures = []


def check(name, ok, detail=""):
    print(f"{'PASS' if ok else 'FAIL'} {name}" + (f": {detail}" if detail and not ok else ""),
          flush=True)
    if not ok:
        failures.append(name)
    return ok


# --- protobuf wire format, by hand (for the reflection and health messages) -----------------

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field_bytes(number, data):
    data = data.encode() if isinstance(data, str) else data
    return varint(number << 3 | 2) + varint(len(data)) + data


def parse_fields(data):
    """[(field number, value)]: ints for varints, bytes for length-delimited fields."""
    out, i = [], 0
    while i < len(data):
        key, i = read_varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = read_varint(data, i)
        elif wire == 2:
            size, i = read_varint(data, i)
            value, i = data[i:i + size], i + size
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wire}")
        out.append((number, value))
    return out


def read_varint(data, i):
    shift = result = 0
    while True:
        b = data[i]
        i += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, i


# --- the cluster ------------------------------------------------------------------------------


class Cluster:
    def __init__(self, binary, out, secure):
        self.binary, self.out, self.secure = binary, out, secure
        self.certs = os.path.join(out, "certs")
        self.tokens = {}
        self.procs, self.ports, self.logs = {}, {}, {}
        self.channels = {}

    def start(self):
        shutil.rmtree(self.out, ignore_errors=True)
        os.makedirs(self.out)
        if self.secure:
            subprocess.run([self.binary, "tls", "init", self.certs, "--nodes", "3"], check=True,
                           stdout=subprocess.DEVNULL)
            with open(os.path.join(self.certs, "tokens")) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 2 and not parts[0].startswith("#"):
                        self.tokens.setdefault(parts[0], parts[1])
        ports = free_ports(3)
        for i in (1, 2, 3):
            self.ports[i] = ports[i - 1]
        for i in (1, 2, 3):
            peers = ",".join(f"{j}:127.0.0.1:{self.ports[j]}" for j in (1, 2, 3) if j != i)
            args = [self.binary, "server", "--node-id", str(i), "--port", str(self.ports[i]),
                    "--peers", peers, "--data-dir", os.path.join(self.out, f"data-{i}"),
                    "--log-format", "json", "--worker-slots", "2"]
            if self.secure:
                args += ["--tls-cert", os.path.join(self.certs, f"node-{i}.pem"),
                         "--tls-key", os.path.join(self.certs, f"node-{i}-key.pem"),
                         "--tls-ca", os.path.join(self.certs, "ca.pem"),
                         "--token-file", os.path.join(self.certs, "tokens")]
            self.logs[i] = os.path.join(self.out, f"node-{i}.log")
            with open(self.logs[i], "wb") as log:
                self.procs[i] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                                 stdin=subprocess.DEVNULL, cwd=self.out)

    def stop(self, i):
        p = self.procs[i]
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def stop_all(self):
        for ch in self.channels.values():
            ch.close()
        for i in self.procs:
            self.stop(i)

    def channel(self, i):
        if i not in self.channels:
            target = f"127.0.0.1:{self.ports[i]}"
            if self.secure:
                def read(name):
                    with open(os.path.join(self.certs, name), "rb") as f:
                        return f.read()
                creds = grpc.ssl_channel_credentials(read("ca.pem"), read("client-key.pem"),
                                                     read("client.pem"))
                self.channels[i] = grpc.secure_channel(target, creds)
            else:
                self.channels[i] = grpc.insecure_channel(target)
        return self.channels[i]

    def metadata(self, role):
        return [("authorization", f"Bearer {self.tokens[role]}")] if self.secure and role else []


# --- health ---------------------------------------------------------------------------------

def health_status(cluster, i, service="", timeout=2):
    """The status Check answers (1 SERVING, 2 NOT_SERVING), or the gRPC error code."""
    call = cluster.channel(i).unary_unary(HEALTH_CHECK)
    try:
        answer = call(field_bytes(1, service), timeout=timeout, wait_for_ready=True)
    except grpc.RpcError as e:
        return e.code()
    return dict(parse_fields(answer)).get(1, 0)


# --- reflection -----------------------------------------------------------------------------

def reflect(cluster, i, requests, metadata=()):
    """Sends the ServerReflectionRequests (bytes) on one stream; returns the responses parsed
    into field lists."""
    call = cluster.channel(i).stream_stream(REFLECTION)
    answers = call(iter(requests), timeout=10, metadata=list(metadata), wait_for_ready=True)
    return [parse_fields(a) for a in answers]


def list_services(cluster, i):
    (answer,) = reflect(cluster, i, [field_bytes(7, "")])
    fields = dict(answer)
    if 7 in fields:
        raise RuntimeError(f"reflection error: {parse_fields(fields[7])}")
    return sorted(dict(parse_fields(svc)).get(1, b"").decode()
                  for number, svc_list in answer if number == 6
                  for n, svc in parse_fields(svc_list) if n == 1)


def fetch_files(cluster, i, symbol):
    """Every FileDescriptorProto the symbol needs, its dependencies fetched by file name."""
    files = {}

    def take(answer):
        for number, value in answer:
            if number == 7:
                raise RuntimeError(f"reflection error: {parse_fields(value)}")
            if number == 4:
                for n, blob in parse_fields(value):
                    if n == 1:
                        fd = descriptor_pb2.FileDescriptorProto.FromString(blob)
                        files[fd.name] = fd

    for answer in reflect(cluster, i, [field_bytes(4, symbol)]):
        take(answer)
    missing = [d for fd in list(files.values()) for d in fd.dependency if d not in files]
    while missing:
        for answer in reflect(cluster, i, [field_bytes(3, name) for name in missing]):
            take(answer)
        still = [d for fd in list(files.values()) for d in fd.dependency if d not in files]
        if set(still) == set(missing):
            raise RuntimeError(f"reflection does not give {still}")
        missing = still
    return files


def build_pool(files):
    pool = descriptor_pool.DescriptorPool()
    added = set()

    def add(name):
        if name in added:
            return
        for dep in files[name].dependency:
            add(dep)
        pool.Add(files[name])
        added.add(name)

    for name in files:
        add(name)
    return pool


def message_class(pool, full_name):
    desc = pool.FindMessageTypeByName(full_name)
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(desc)
    return message_factory.MessageFactory(pool).GetPrototype(desc)


class ReflectedService:
    """A service whose methods are called with message classes built from reflection alone."""

    def __init__(self, cluster, i, service):
        self.cluster, self.node = cluster, i
        self.pool = build_pool(fetch_files(cluster, i, service))
        self.desc = self.pool.FindServiceByName(service)

    def method_names(self):
        return sorted(m.name for m in self.desc.methods)

    def call(self, method, role, **fields):
        m = self.desc.methods_by_name[method]
        request_cls = message_class(self.pool, m.input_type.full_name)
        response_cls = message_class(self.pool, m.output_type.full_name)
        handle = self.cluster.channel(self.node).unary_unary(
            f"/{self.desc.full_name}/{method}",
            request_serializer=lambda msg: msg.SerializeToString(),
            response_deserializer=response_cls.FromString)
        return handle(request_cls(**fields), timeout=10, metadata=self.cluster.metadata(role),
                      wait_for_ready=True)


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
    cluster = Cluster(binary, os.path.join(out, label), secure)
    cluster.start()
    try:
        started = time.monotonic()
        serving = wait_for(lambda: [i for i in (1, 2, 3) if health_status(cluster, i) == SERVING]
                           == [1, 2, 3], 20)
        if not check(f"{label}: every node reports SERVING once a leader exists", serving,
                     f"logs in {cluster.out}"):
            return
        print(f"     (all SERVING {time.monotonic() - started:.2f} s after start)")
        # The leader as the reflected GetClusterStatus would tell; asked of node 1 here.
        svc = ReflectedService(cluster, 1, SCHEDULER)
        leader = svc.call("GetClusterStatus", "read").leader_id
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
    started = time.monotonic()
    check_bad_log_format(binary, out)
    for secure in (False, True):
        run_cluster(binary, out, secure)
    print(f"{'FAILED' if failures else 'passed'}: {len(failures)} failed checks, "
          f"{time.monotonic() - started:.1f} s; node logs in {out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
