"""The cluster under test and the means to talk to it, as an outsider would.

A three-node cluster started exactly as the README's "Running it safely" recipe says (tls init,
one token file, --tls-* and --token-file on every node), on free 127.0.0.1 ports; gRPC stubs
generated from proto/nomad_lite.proto at run time; raw HTTPS requests; and what each node's
process costs (/proc/PID/status, /proc/PID/fd).
"""

import importlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import time

import grpc

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TESTS, "support"))
from localhost import free_ports, wait_for  # noqa: E402

MIB = 1 << 20


def load_stubs(proto_dir, out_dir):
    """Generates the Python messages from nomad_lite.proto with Debian's protoc (the proto uses
    proto3 `optional`, which needs protoc 3.15 or later) and imports them. Calls are made with
    generic method handles (Cluster.call), so no service stubs are needed."""
    os.makedirs(out_dir, exist_ok=True)
    subprocess.run(["protoc", f"-I{proto_dir}", f"--python_out={out_dir}",
                    os.path.join(proto_dir, "nomad_lite.proto")], check=True)
    sys.path.insert(0, out_dir)
    return importlib.import_module("nomad_lite_pb2")


class Process:
    """What a node's process costs, read from /proc."""

    def __init__(self, pid):
        self.pid = pid

    def rss_mib(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def fds(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))


class Node:
    def __init__(self, node_id, grpc_port, http_port, popen, log_path):
        self.id = node_id
        self.grpc_port = grpc_port
        self.http_port = http_port
        self.popen = popen
        self.proc = Process(popen.pid)
        self.log_path = log_path
        self.channels = {}

    def log_lines(self):
        with open(self.log_path, errors="replace") as f:
            return f.read().splitlines()


class Cluster:
    def __init__(self, binary, out_dir, pb):
        self.binary = os.path.abspath(binary)
        self.out = os.path.abspath(out_dir)
        self.pb = pb
        self.certs = os.path.join(self.out, "certs")
        self.nodes = []
        self.tokens = {}

    # --- start and stop --------------------------------------------------------------------

    def start(self):
        # Two agent certificates: one registers, the other tries to act as it.
        subprocess.run([self.binary, "tls", "init", self.certs, "--nodes", "3", "--agents", "2",
                        "--force"],
                       check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(self.certs, "tokens")) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2 and not parts[0].startswith("#"):
                    self.tokens.setdefault(parts[0], parts[1])
        ports = free_ports(6)
        grpc_ports, http_ports = ports[:3], ports[3:]
        for i in (1, 2, 3):
            peers = ",".join(f"{j}:127.0.0.1:{grpc_ports[j - 1]}" for j in (1, 2, 3) if j != i)
            log_path = os.path.join(self.out, f"node-{i}.log")
            # The README's secure recipe, with ports chosen here rather than 5005N / 808N.
            args = [self.binary, "server", "--node-id", str(i), "--port", str(grpc_ports[i - 1]),
                    "--dashboard-port", str(http_ports[i - 1]), "--peers", peers,
                    "--data-dir", os.path.join(self.out, f"data/secure-{i}"),
                    "--tls-cert", os.path.join(self.certs, f"node-{i}.pem"),
                    "--tls-key", os.path.join(self.certs, f"node-{i}-key.pem"),
                    "--tls-ca", os.path.join(self.certs, "ca.pem"),
                    "--token-file", os.path.join(self.certs, "tokens")]
            with open(log_path, "wb") as log:
                popen = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=self.out)
            self.nodes.append(Node(i, grpc_ports[i - 1], http_ports[i - 1], popen, log_path))
        if not wait_for(lambda: all(port_open(n.grpc_port) for n in self.nodes), 10):
            raise RuntimeError(f"the nodes did not listen within 10 s (logs in {self.out})")
        if not wait_for(lambda: self.leader_id() and all(self.live(n) for n in self.nodes), 20):
            raise RuntimeError(
                f"the cluster did not elect a leader within 20 s (logs in {self.out})")

    def kill_all(self):
        for n in self.nodes:
            if n.popen.poll() is None:
                n.popen.kill()
                n.popen.wait()

    # --- gRPC ------------------------------------------------------------------------------

    def _read(self, name):
        with open(os.path.join(self.certs, name), "rb") as f:
            return f.read()

    def new_channel(self, node, identity="client"):
        """A TLS channel to `node` presenting `identity`'s certificate (client, node-2, ...).
        Receive limit raised so that an oversized answer is the server's doing, not ours."""
        creds = grpc.ssl_channel_credentials(
            root_certificates=self._read("ca.pem"),
            private_key=self._read(f"{identity}-key.pem"),
            certificate_chain=self._read(f"{identity}.pem"))
        return grpc.secure_channel(
            f"127.0.0.1:{node.grpc_port}", creds,
            options=[("grpc.max_receive_message_length", 16 * MIB),
                     # a connection the node reset is made again soon, not after seconds
                     ("grpc.initial_reconnect_backoff_ms", 100),
                     ("grpc.min_reconnect_backoff_ms", 100),
                     ("grpc.max_reconnect_backoff_ms", 500),
                     ("grpc.max_send_message_length", 128 * MIB)])

    def channel(self, node, identity="client", fresh=False):
        """A hostile call gets a channel of its own (fresh), so that what it does to its
        connection cannot be mistaken for what the next call finds; the suite's own reads
        share one per node and identity."""
        if fresh:
            return self.new_channel(node, identity)
        if identity not in node.channels:
            node.channels[identity] = self.new_channel(node, identity)
        return node.channels[identity]

    def call(self, node, method, request, role="operator", identity="client", timeout=10,
             response=None, fresh=True):
        """A unary call. `request` is a message or raw bytes (sent as they are: identity
        serializer); returns (grpc.StatusCode, details, response or None). It waits for the
        channel to connect up to its deadline rather than fail at once."""
        chan = self.channel(node, identity, fresh)
        raw = isinstance(request, (bytes, bytearray))
        handle = chan.unary_unary(
            method, request_serializer=None if raw else (lambda m: m.SerializeToString()),
            response_deserializer=response.FromString if response else None)
        metadata = [("authorization", f"Bearer {self.tokens[role]}")] if role else []
        try:
            answer = handle(bytes(request) if raw else request, timeout=timeout,
                            metadata=metadata, wait_for_ready=True)
            return grpc.StatusCode.OK, "", answer
        except grpc.RpcError as e:
            return e.code(), e.details() or "", None
        finally:
            if fresh:
                chan.close()

    def stream_call(self, node, method, requests, role="operator", identity="client",
                    timeout=10, response=None, server_streaming=True, client_streaming=False,
                    fresh=True):
        """A streaming call; returns (code, details, [responses])."""
        chan = self.channel(node, identity, fresh)
        make = {(False, True): chan.unary_stream, (True, False): chan.stream_unary,
                (True, True): chan.stream_stream}[(client_streaming, server_streaming)]

        def ser(m):
            return bytes(m) if isinstance(m, (bytes, bytearray)) else m.SerializeToString()

        handle = make(method, request_serializer=ser,
                      response_deserializer=response.FromString if response else None)
        metadata = [("authorization", f"Bearer {self.tokens[role]}")] if role else []
        out = []
        try:
            answer = handle(iter(requests) if client_streaming else requests, timeout=timeout,
                            metadata=metadata, wait_for_ready=True)
            if server_streaming:
                for item in answer:
                    out.append(item)
            else:
                out.append(answer)
            return grpc.StatusCode.OK, "", out
        except grpc.RpcError as e:
            return e.code(), e.details() or "", out
        finally:
            if fresh:
                chan.close()

    def status(self, node, timeout=2, fresh=False):
        code, _, answer = self.call(node, "/nomad_lite.SchedulerService/GetClusterStatus",
                                    self.pb.GetClusterStatusRequest(), role="read",
                                    timeout=timeout, response=self.pb.GetClusterStatusResponse,
                                    fresh=fresh)
        return answer if code == grpc.StatusCode.OK else None

    def leader_id(self):
        for n in self.nodes:
            s = self.status(n)
            if s and s.leader_id:
                return s.leader_id
        return 0

    def leader(self):
        lid = wait_for(self.leader_id, 10)
        return self.nodes[lid - 1] if lid else self.nodes[0]

    def list_jobs(self, node):
        """Every job `node` holds: {id: (status, command)}, or None when it does not answer."""
        jobs, token = {}, ""
        for _ in range(50):
            code, _, answer = self.call(node, "/nomad_lite.SchedulerService/ListJobs",
                                        self.pb.ListJobsRequest(limit=1000, page_token=token),
                                        role="read", response=self.pb.ListJobsResponse,
                                        fresh=False)
            if code != grpc.StatusCode.OK:
                return None
            for j in answer.jobs:
                jobs[j.id] = (j.status, j.command)
            token = answer.next_page_token
            if not token:
                return jobs
        return jobs

    # --- HTTP ------------------------------------------------------------------------------

    def tls_context(self):
        ctx = ssl.create_default_context(cafile=os.path.join(self.certs, "ca.pem"))
        return ctx

    def connect_http(self, node, timeout=5):
        sock = socket.create_connection(("127.0.0.1", node.http_port), timeout=timeout)
        return self.tls_context().wrap_socket(sock, server_hostname="127.0.0.1")

    def http(self, node, method, path, body=None, headers=None, role="operator", timeout=5,
             raw_head=None):
        """One HTTPS request on a connection of its own; returns (status, {header: value},
        body bytes), status 0 when the server closed the connection without an answer.
        `raw_head` replaces the request line and headers entirely (bytes, CRLF-terminated)."""
        if raw_head is None:
            lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
            if role:
                lines.append(f"Authorization: Bearer {self.tokens[role]}")
            if body is not None:
                lines.append(f"Content-Length: {len(body)}")
                lines.append("Content-Type: application/json")
            for k, v in (headers or {}).items():
                lines.append(f"{k}: {v}")
            raw_head = ("\r\n".join(lines) + "\r\n\r\n").encode()
        payload = raw_head + (body if isinstance(body, bytes) else (body or "").encode())
        try:
            sock = self.connect_http(node, timeout)
        except OSError:
            return 0, {}, b""
        try:
            try:
                sock.sendall(payload)
            except OSError:
                pass  # the server may answer (413, 431) and close before reading everything
            data = b""
            while not answer_complete(data):
                try:
                    chunk = sock.recv(65536)
                except (OSError, ssl.SSLError):
                    break
                if not chunk:
                    break
                data += chunk
        finally:
            sock.close()
        return parse_http_answer(data)

    def live(self, node, timeout=1):
        status, _, _ = self.http(node, "GET", "/health/live", role=None, timeout=timeout)
        return status == 200


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def answer_complete(data):
    """Whether `data` holds a whole answer (by Content-Length or the last chunk): the client
    stops reading there rather than wait for the server to close."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    lowered = head.lower()
    if b"transfer-encoding: chunked" in lowered:
        return body.endswith(b"0\r\n\r\n")
    for line in lowered.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def parse_http_answer(data):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines or not lines[0].startswith("HTTP/"):
        return 0, {}, b""
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = dechunk(body)
    return status, headers, body


def dechunk(body):
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            break
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2:]
    return out


def sigterm_and_wait(node, limit):
    """SIGTERM, then the seconds until the process exited, or None if it did not within limit."""
    started = time.monotonic()
    node.popen.send_signal(signal.SIGTERM)
    try:
        node.popen.wait(timeout=limit)
        return time.monotonic() - started
    except subprocess.TimeoutExpired:
        return None
