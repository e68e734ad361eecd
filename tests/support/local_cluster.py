"""nomad-lite servers on 127.0.0.1 as real processes, and the calls an operator makes to them:
the CLI (-o json), REST on the dashboard port and gRPC channels.

A cluster lives in one folder `out` (emptied first): each server's data directory
(data-<id>), its log (node-<id>.log) and, with secure=True, the certificates and token file of
`tls init`. token_file alone gives tokens without TLS."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys

import processes
from localhost import free_ports, wait_for
from rest import try_http_json

FINAL = ("completed", "failed", "cancelled")


def read_tokens(path):
    """{role: token} of a token file (lines `role token`; the first token of a role wins)."""
    tokens = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2 and not parts[0].startswith("#"):
                tokens.setdefault(parts[0], parts[1])
    return tokens


def accepts(port):
    """Whether something accepts TCP connections on 127.0.0.1:port now."""
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def read_text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


class LocalCluster:
    def __init__(self, binary, out, secure=False, agents=0, token_file=None, server_args=(),
                 dashboards=False):
        """server_args: flags every server gets; agents: agent certificates tls init makes;
        dashboards: each server gets a --dashboard-port (for rest())."""
        self.binary, self.out, self.secure = binary, out, secure
        self.server_flags, self.dashboards = list(server_args), dashboards
        self.certs = os.path.join(out, "certs")
        self.token_file = os.path.join(self.certs, "tokens") if secure else token_file
        self.tokens = {}
        self.procs, self.ports, self.http_ports, self.dirs, self.logs = {}, {}, {}, {}, {}
        self.launched_with = {}  # id -> (extra flags, certificate): what restart() gives again
        self.removed = set()  # no longer members: they no longer hear of the leader
        self.others = []  # other processes (agents), stopped with the servers
        self.channels = {}
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        if secure:
            subprocess.run([binary, "tls", "init", self.certs, "--nodes", "3"]
                           + (["--agents", str(agents)] if agents else []),
                           check=True, stdout=subprocess.DEVNULL)
        if self.token_file:
            self.tokens = read_tokens(self.token_file)

    # --- processes -----------------------------------------------------------------------

    def security_args(self, cert):
        """The flags a process with certificate `cert` (node-1, agent-2) needs here."""
        args = []
        if self.secure:
            args += ["--tls-cert", os.path.join(self.certs, f"{cert}.pem"),
                     "--tls-key", os.path.join(self.certs, f"{cert}-key.pem"),
                     "--tls-ca", os.path.join(self.certs, "ca.pem")]
        if self.token_file:
            args += ["--token-file", self.token_file]
        return args

    def prepare(self, i, data=None):
        """A port (and dashboard port) and a data directory for server i, not yet started."""
        if i not in self.ports:
            self.ports[i] = free_ports(1)[0]
        if self.dashboards and i not in self.http_ports:
            self.http_ports[i] = free_ports(1)[0]
        self.dirs.setdefault(i, os.path.join(self.out, data or f"data-{i}"))

    def server_args(self, i, cert_of=None):
        """The command line of server i (prepared), with node cert_of's certificate if given."""
        args = [self.binary, "server", "--node-id", str(i), "--port", str(self.ports[i]),
                "--data-dir", self.dirs[i]] + self.server_flags
        if self.dashboards:
            args += ["--dashboard-port", str(self.http_ports[i])]
        return args + self.security_args(f"node-{cert_of or i}")

    def launch(self, i, extra=(), cert_of=None):
        """Starts server i with `extra` flags (--peers, --join, ...); returns its process."""
        self.prepare(i)
        self.logs[i] = os.path.join(self.out, f"node-{i}.log")
        self.launched_with[i] = (list(extra), cert_of)
        proc = processes.spawn(self.server_args(i, cert_of) + list(extra), self.logs[i],
                               cwd=self.out)
        self.procs[i] = proc
        # A CLI call that finds the port closed backs off for seconds: wait until it listens,
        # as its own log says (another process on the port would accept connections too).
        serving = f"serving gRPC on 127.0.0.1:{self.ports[i]} "
        wait_for(lambda: proc.poll() is not None or (accepts(self.ports[i]) and
                                                     serving in read_text(self.logs[i])), 10, 0.02)
        if proc.poll() is not None:
            print(f"local_cluster: server {i} exited at start with code {proc.returncode} "
                  f"(log {self.logs[i]}): {read_text(self.logs[i])[-400:]}", file=sys.stderr)
        return proc

    def restart(self, i):
        """Starts server i again as it was last started (a SIGKILLed node with its --peers)."""
        self.launch(i, *self.launched_with[i])

    def bootstrap(self, ids=(1, 2, 3), extra=()):
        """A new cluster of servers ids, each started with --peers naming the others (one
        server alone: a cluster of one)."""
        for i, port in zip(ids, free_ports(len(ids))):
            self.ports[i] = port
        for i in ids:
            peers = ",".join(f"{j}:{self.addr(j)}" for j in ids if j != i)
            self.launch(i, (["--peers", peers] if peers else []) + list(extra))

    def spawn(self, args, log_name):
        """Another process of the cluster (an agent), with its log in out; stop_all stops it."""
        proc = processes.spawn(args, os.path.join(self.out, log_name), cwd=self.out)
        self.others.append(proc)
        return proc

    def log_of(self, log_name):
        with open(os.path.join(self.out, log_name), errors="replace") as f:
            return f.read()

    def stop(self, i, sig=signal.SIGTERM):
        processes.stop(self.procs.get(i), sig)

    def stop_all(self):
        for channel in self.channels.values():
            channel.close()
        self.channels.clear()
        processes.stop_all(self.others + list(self.procs.values()))

    def live(self):
        return [i for i, p in list(self.procs.items()) if p.poll() is None and i not in self.removed]

    # --- the CLI -------------------------------------------------------------------------

    def addr(self, i):
        return f"127.0.0.1:{self.ports[i]}"

    def addrs(self, nodes=None):
        return ",".join(self.addr(i) for i in (self.live() if nodes is None else nodes))

    def cli_command(self, args, node=None, role="operator", output="json"):
        """(argv, env) of a CLI call to node (or every live server); output None: no -o."""
        cmd = [self.binary, "--addr", self.addrs([node] if node else None)]
        cmd += ["-o", output] if output else []
        env = {k: v for k, v in os.environ.items() if not k.startswith("NOMAD_LITE_")}
        if self.secure:
            env.update({"NOMAD_LITE_CACERT": os.path.join(self.certs, "ca.pem"),
                        "NOMAD_LITE_CLIENT_CERT": os.path.join(self.certs, "client.pem"),
                        "NOMAD_LITE_CLIENT_KEY": os.path.join(self.certs, "client-key.pem")})
        if role and self.tokens:
            # A file of tokens without TLS may hold the operator's alone.
            env["NOMAD_LITE_TOKEN"] = self.tokens.get(role) or self.tokens["operator"]
        return cmd + list(args), env

    def cli(self, args, node=None, role="operator", timeout=30, output="json"):
        """(exit code, stdout, stderr); 124 when it outlives timeout seconds."""
        cmd, env = self.cli_command(args, node, role, output)
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            return 124, "", "timed out"
        return r.returncode, r.stdout, r.stderr

    def cli_json(self, args, **kw):
        """The decoded -o json answer, or None when the call failed."""
        rc, out, _ = self.cli(args, **kw)
        if rc != 0:
            return None
        try:
            return json.loads(out)
        except ValueError:
            return None

    def status(self, node=None):
        """cluster status of node, else as the leader answers it (a follower does not hear
        agents), else as any live server does; None when none answers."""
        if node:
            return self.cli_json(["cluster", "status"], node=node, role="read", timeout=10)
        seen = None
        for i in self.live():
            s = self.status(i)
            if s and s.get("role") == "leader":
                return s
            seen = seen or s
        return seen

    def leader(self):
        s = self.status()
        return s["leader_id"] if s and s.get("leader_id") in self.procs else None

    def submit(self, command, extra=(), role="submit", timeout=30):
        """Submits `sh -c command` with job submit's `extra` flags: its id, or None."""
        job = self.cli_json(["job", "submit"] + list(extra) + ["--", "sh", "-c", command],
                            role=role, timeout=timeout)
        return job.get("id") if isinstance(job, dict) else None

    def job(self, job_id, node=None):
        return self.cli_json(["job", "status", job_id], node=node, role="read", timeout=10)

    def jobs(self):
        """Every job by id (job list), or None when the call failed."""
        j = self.cli_json(["job", "list"], role="read", timeout=30)
        return {x["id"]: x for x in j["jobs"]} if j and "jobs" in j else None

    def wait_final(self, ids, timeout):
        """Waits until every job in ids has ended; {id: job} of every job then, or None."""
        def all_final():
            jobs = self.jobs()
            if jobs is None or any(jobs.get(i, {}).get("status") not in FINAL for i in ids):
                return None
            return jobs
        return wait_for(all_final, timeout, 0.3)

    def wait_ended(self, job_id, timeout=30):
        """The job once it has ended, or None."""
        return wait_for(lambda: (lambda j: j if j and j["status"] in FINAL else None)(
            self.job(job_id)), timeout, 0.3) if job_id else None

    # --- REST and gRPC -------------------------------------------------------------------

    def rest(self, method, path, body=None, node=None, raw=None):
        """(HTTP status, decoded JSON) from node's dashboard port (default: the leader's, else
        any live server's); (0, None) when it did not answer. raw: bytes sent instead of body."""
        node = node or self.leader() or self.live()[0]
        return try_http_json(f"http://127.0.0.1:{self.http_ports[node]}{path}", body,
                             timeout=10, method=method, raw=raw)

    def channel(self, i):
        """A gRPC channel to server i (TLS with the client certificate when secure)."""
        import grpc  # python3-grpcio: only the suites that speak gRPC need it
        if i not in self.channels:
            if self.secure:
                def read(name):
                    with open(os.path.join(self.certs, name), "rb") as f:
                        return f.read()
                creds = grpc.ssl_channel_credentials(read("ca.pem"), read("client-key.pem"),
                                                     read("client.pem"))
                self.channels[i] = grpc.secure_channel(self.addr(i), creds)
            else:
                self.channels[i] = grpc.insecure_channel(self.addr(i))
        return self.channels[i]

    def metadata(self, role):
        """gRPC call metadata carrying role's token (none for a plain cluster or role None)."""
        return [("authorization", f"Bearer {self.tokens[role]}")] if self.secure and role else []
