#!/usr/bin/python3
"""Worker-only agents with real nomad-lite processes on 127.0.0.1 (README "Worker-only agents").

Plain cluster: 3 servers with --worker-slots 0 and 3 agents (--slots 2):
- agents get ids above 100, none a server's, distinct; cluster status lists them (agent, alive,
  address);
- jobs run only on agents (no server runs one: --worker-slots 0);
- `job logs` through a follower returns an agent's whole output (more than the replicated tail);
- an agent SIGKILLed mid-job: the attempt is declared lost and the job completes on another
  agent;
- an agent SIGKILLed and restarted at once from its data directory keeps its id and never runs
  an attempt it started again (each job appends its attempt number to a file of its own: no
  number twice);
- the leader SIGKILLed while agents run jobs: every job completes, none lost;
- `server --join` with an agent's id is refused.

Secure cluster (tls init --agents 2, TLS and tokens): an agent registers with its certificate,
runs a job whose output a server fetches from it; an agent certificate presenting another
agent's id (its agent.json) is refused.

Tokens without TLS: an agent without the servers' token file is refused; with it, it registers
and runs a job.

  tests/agents/basic.py --bin build/nomad-lite --out build/agents-basic
Exit code 1 when a check fails; one PASS/FAIL line per check.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TESTS, "support"))
from localhost import free_ports, wait_for  # noqa: E402

failures = []


def check(name, ok, detail=""):
    print(f"{'PASS' if ok else 'FAIL'} {name}" + (f": {detail}" if detail and not ok else ""),
          flush=True)
    if not ok:
        failures.append(name)
    return ok


class Cluster:
    def __init__(self, binary, out, secure=False, token_file=None):
        self.binary, self.out, self.secure = binary, out, secure
        self.token_file = token_file  # tokens without TLS
        self.certs = os.path.join(out, "certs")
        self.tokens = {}
        self.servers, self.ports = {}, {}
        self.agents, self.agent_dirs = {}, {}
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        self.marks = os.path.join(out, "marks")
        os.makedirs(self.marks)
        if secure:
            subprocess.run([binary, "tls", "init", self.certs, "--nodes", "3", "--agents", "2"],
                           check=True, stdout=subprocess.DEVNULL)
            with open(os.path.join(self.certs, "tokens")) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 2 and not parts[0].startswith("#"):
                        self.tokens.setdefault(parts[0], parts[1])

    def security(self, cert):
        if self.token_file:
            return ["--token-file", self.token_file]
        if not self.secure:
            return []
        return ["--tls-cert", os.path.join(self.certs, f"{cert}.pem"),
                "--tls-key", os.path.join(self.certs, f"{cert}-key.pem"),
                "--tls-ca", os.path.join(self.certs, "ca.pem"),
                "--token-file", os.path.join(self.certs, "tokens")]

    def start_servers(self):
        for i, p in zip((1, 2, 3), free_ports(3)):
            self.ports[i] = p
        for i in (1, 2, 3):
            self.start_server(i)

    def start_server(self, i):
        peers = ",".join(f"{j}:127.0.0.1:{self.ports[j]}" for j in (1, 2, 3) if j != i)
        log = open(os.path.join(self.out, f"server-{i}.log"), "ab")
        self.servers[i] = subprocess.Popen(
            [self.binary, "server", "--node-id", str(i), "--port", str(self.ports[i]),
             "--peers", peers, "--data-dir", os.path.join(self.out, f"data-{i}"),
             "--worker-slots", "0", "--worker-timeout", "2s", "--kill-grace", "1s",
             "--election-timeout", "150ms"] + self.security(f"node-{i}"),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.out)
        log.close()

    def server_list(self):
        return ",".join(f"127.0.0.1:{self.ports[i]}" for i in (1, 2, 3))

    def start_agent(self, name, cert=None, data=None):
        self.agent_dirs.setdefault(name, data or os.path.join(self.out, f"agent-{name}"))
        log_path = os.path.join(self.out, f"agent-{name}.log")
        log = open(log_path, "ab")
        self.agents[name] = subprocess.Popen(
            [self.binary, "agent", "--servers", self.server_list(), "--slots", "2",
             "--node-name", f"agent-{name}", "--data-dir", self.agent_dirs[name],
             "--job-user", "root"] + self.security(cert or f"agent-{name}"),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.out)
        log.close()
        return self.agents[name]

    def agent_id(self, name):
        try:
            with open(os.path.join(self.agent_dirs[name], "agent.json")) as f:
                return json.load(f)["id"]
        except (OSError, ValueError, KeyError):
            return None

    def live_servers(self):
        return [i for i, p in self.servers.items() if p.poll() is None]

    def cli(self, args, node=None, timeout=30):
        nodes = [node] if node else self.live_servers()
        cmd = [self.binary, "--addr", ",".join(f"127.0.0.1:{self.ports[i]}" for i in nodes),
               "-o", "json"]
        env = dict(os.environ)
        if self.token_file:
            with open(self.token_file) as f:
                env["NOMAD_LITE_TOKEN"] = f.read().split()[1]
        if self.secure:
            env.update({"NOMAD_LITE_CACERT": os.path.join(self.certs, "ca.pem"),
                        "NOMAD_LITE_CLIENT_CERT": os.path.join(self.certs, "client.pem"),
                        "NOMAD_LITE_CLIENT_KEY": os.path.join(self.certs, "client-key.pem"),
                        "NOMAD_LITE_TOKEN": self.tokens["operator"]})
        try:
            r = subprocess.run(cmd + args, capture_output=True, text=True, timeout=timeout,
                               env=env)
        except subprocess.TimeoutExpired:
            return 124, "", "timed out"
        return r.returncode, r.stdout, r.stderr

    def json(self, args, node=None):
        rc, out, _ = self.cli(args, node=node, timeout=10)
        if rc != 0:
            return None
        try:
            return json.loads(out)
        except ValueError:
            return None

    def status(self, node=None):
        return self.json(["cluster", "status"], node=node)

    def leader(self):
        s = self.status()
        return s["leader_id"] if s and s.get("leader_id") else None

    def alive_agents(self):
        """Agents the leader hears from, by id."""
        leader = self.leader()
        s = self.status(node=leader) if leader else None
        if not s:
            return set()
        return {n["id"] for n in s["nodes"] if n.get("agent") and n.get("alive")}

    def submit(self, command):
        job = self.json(["job", "submit", "--", "sh", "-c", command])
        return job["id"] if job else None

    def job(self, job_id):
        return self.json(["job", "status", job_id])

    def wait_final(self, ids, timeout=60):
        def done():
            jobs = [self.job(i) for i in ids]
            if all(j and j["status"] in ("completed", "failed", "cancelled") for j in jobs):
                return jobs
            return None
        return wait_for(done, timeout, 0.2)

    def stop_all(self):
        for p in list(self.agents.values()) + list(self.servers.values()):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in list(self.agents.values()) + list(self.servers.values()):
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def mark_command(marks, extra=""):
    """Appends the attempt number to a file named after the job, then runs `extra`."""
    return f'echo $NOMAD_LITE_ATTEMPT >> {marks}/$NOMAD_LITE_JOB_ID; {extra}'


def attempts_ran_once(marks, job):
    try:
        with open(os.path.join(marks, job["id"])) as f:
            numbers = f.read().split()
    except OSError:
        numbers = []
    return len(numbers) == len(set(numbers)), numbers


def plain(binary, out):
    c = Cluster(binary, out)
    try:
        c.start_servers()
        check("servers elect a leader", wait_for(c.leader, 20, 0.2))
        for name in ("a", "b", "c"):
            c.start_agent(name)
        ids = wait_for(lambda: all(c.agent_id(n) for n in "abc") and
                       {c.agent_id(n) for n in "abc"}, 20, 0.2)
        check("every agent keeps an id in its data directory", ids and len(ids) == 3, str(ids))
        ids = ids or set()
        check("agent ids are above 100 and none is a server's",
              all(i > 100 for i in ids) and not ids & {1, 2, 3}, str(ids))
        check("the leader hears every agent", wait_for(lambda: c.alive_agents() >= ids, 20, 0.2),
              str(c.alive_agents()))
        s = c.status(node=c.leader()) or {"nodes": []}
        listed = [n for n in s["nodes"] if n.get("agent")]
        check("cluster status lists the agents with their address",
              {n["id"] for n in listed} == ids and all(n["address"] for n in listed), str(listed))

        jobs = [c.submit(mark_command(c.marks)) for _ in range(12)]
        check("12 jobs submitted", all(jobs))
        final = c.wait_final([j for j in jobs if j]) or []
        check("every job completed", len(final) == 12 and
              all(j["status"] == "completed" for j in final))
        check("jobs ran only on agents (servers have --worker-slots 0)",
              final and all(j["node_id"] in ids for j in final),
              str([j["node_id"] for j in final]))
        check("jobs spread over more than one agent", len({j["node_id"] for j in final}) > 1)

        big = c.submit("head -c 200000 /dev/zero | tr '\\0' x")
        c.wait_final([big])
        follower = next(i for i in c.live_servers() if i != c.leader())
        rc, logs, err = c.cli(["job", "logs", big], node=follower)
        check("job logs through a follower returns the agent's whole output",
              rc == 0 and len(logs) == 200000, f"rc {rc}, {len(logs)} bytes, {err.strip()}")

        # An agent SIGKILLed mid-job: the job completes on another agent.
        long_job = c.submit(mark_command(c.marks, "sleep 3"))
        running = wait_for(lambda: (lambda j: j if j and j["status"] == "running" and
                                    j.get("started_at") else None)(c.job(long_job)), 20, 0.1)
        victim = next((n for n in "abc" if running and c.agent_id(n) == running["node_id"]), None)
        check("the long job runs on an agent", victim is not None)
        if victim:
            c.agents[victim].kill()
            c.agents[victim].wait()
            done = (c.wait_final([long_job], 60) or [None])[0]
            attempts = done["attempts"] if done else []
            check("the killed agent's job completes on another agent",
                  done and done["status"] == "completed" and done["node_id"] != running["node_id"]
                  and attempts[0]["reason"] == "lost", json.dumps(attempts))
            c.start_agent(victim)
            check("the restarted agent is heard again under its id",
                  wait_for(lambda: running["node_id"] in c.alive_agents(), 20, 0.2))

        # SIGKILLed and restarted at once: it reports what it had as lost, never runs it again.
        long_job = c.submit(mark_command(c.marks, "sleep 4"))
        running = wait_for(lambda: (lambda j: j if j and j["status"] == "running" and
                                    j.get("started_at") else None)(c.job(long_job)), 20, 0.1)
        victim = next((n for n in "abc" if running and c.agent_id(n) == running["node_id"]), None)
        if check("a second long job runs on an agent", victim is not None):
            before = c.agent_id(victim)
            c.agents[victim].kill()
            c.agents[victim].wait()
            c.start_agent(victim)
            done = (c.wait_final([long_job], 60) or [None])[0]
            once, numbers = attempts_ran_once(c.marks, done or {"id": long_job})
            check("a restarted agent keeps its id", c.agent_id(victim) == before)
            check("its job completes and no attempt ran twice",
                  done and done["status"] == "completed" and once, f"attempts ran: {numbers}")
            check("the attempt it had is lost, not resumed",
                  done and done["attempts"][0]["reason"] == "lost",
                  json.dumps(done["attempts"] if done else None))

        # The leader SIGKILLed while agents run jobs: nothing is lost.
        batch = [c.submit(mark_command(c.marks, "sleep 2")) for _ in range(6)]
        wait_for(lambda: all((c.job(j) or {}).get("status") == "running" for j in batch), 10, 0.1)
        leader = c.leader()
        c.servers[leader].kill()
        c.servers[leader].wait()
        final = c.wait_final(batch, 60) or []
        check("after a leader change every job completed, none lost",
              len(final) == 6 and all(j["status"] == "completed" and
                                      all(a["reason"] != "lost" for a in j["attempts"])
                                      for j in final),
              json.dumps([[a["reason"] for a in j["attempts"]] for j in final]))
        check("agents follow the new leader",
              wait_for(lambda: c.alive_agents() >= ids, 20, 0.2), str(c.alive_agents()))
        c.start_server(leader)

        every = [j for j in jobs if j] + batch
        check("no attempt of any job ran twice",
              all(attempts_ran_once(c.marks, {"id": j})[0] for j in every))

        # A server may not join with an agent's id.
        taken = sorted(ids)[0]
        port = free_ports(1)[0]
        r = subprocess.run([binary, "server", "--node-id", str(taken), "--port", str(port),
                            "--join", c.server_list(), "--data-dir",
                            os.path.join(out, "joiner")], capture_output=True, text=True,
                           timeout=30, cwd=out)
        check("server --join with an agent's id is refused",
              r.returncode != 0 and "agent" in r.stderr, r.stderr.strip()[-300:])
    finally:
        c.stop_all()


def secure(binary, out):
    c = Cluster(binary, out, secure=True)
    try:
        c.start_servers()
        check("secure: servers elect a leader", wait_for(c.leader, 20, 0.2))
        c.start_agent("1")
        agent = wait_for(lambda: c.agent_id("1"), 20, 0.2)
        check("secure: an agent registers with its certificate", agent)
        check("secure: the leader hears it", wait_for(lambda: agent in c.alive_agents(), 20, 0.2))
        job = c.submit("head -c 100000 /dev/zero | tr '\\0' y")
        final = (c.wait_final([job]) or [None])[0]
        check("secure: its job completes on it", final and final["node_id"] == agent)
        rc, logs, err = c.cli(["job", "logs", job])
        check("secure: job logs fetched from the agent over TLS",
              rc == 0 and len(logs) == 100000, f"rc {rc}, {len(logs)} bytes, {err.strip()}")
        # agent-2's certificate with agent 1's id (its agent.json) may not register as it.
        stolen = os.path.join(out, "stolen")
        shutil.copytree(c.agent_dirs["1"], stolen,
                        ignore=shutil.ignore_patterns("jobs"))
        p = c.start_agent("2", cert="agent-2", data=stolen)
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
        with open(os.path.join(out, "agent-2.log")) as f:
            log = f.read()
        check("secure: another agent's certificate cannot take an agent's id",
              p.returncode == 2 and "registered by agent-1" in log, log[-300:])
    finally:
        c.stop_all()


def tokens(binary, out):
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    token_file = os.path.join(out, "..", "tokens-only")
    with open(token_file, "w") as f:
        f.write("operator " + os.urandom(32).hex() + "\n")
    os.chmod(token_file, 0o600)
    c = Cluster(binary, out, token_file=token_file)
    try:
        c.start_servers()
        check("tokens: servers elect a leader", wait_for(c.leader, 20, 0.2))
        # Without the token an agent is refused, and says so.
        c.token_file = None
        p = c.start_agent("x")
        c.token_file = token_file
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
        with open(os.path.join(out, "agent-x.log")) as f:
            log = f.read()
        check("tokens: an agent without the operator token is refused",
              p.returncode == 2 and "refused" in log, log[-300:])
        c.start_agent("y")
        agent = wait_for(lambda: c.agent_id("y"), 20, 0.2)
        check("tokens: an agent with the servers' token file registers",
              agent and wait_for(lambda: agent in c.alive_agents(), 20, 0.2))
        job = c.submit("echo tokens")
        final = (c.wait_final([job]) or [None])[0]
        check("tokens: its job completes on it", final and final["node_id"] == agent)
    finally:
        c.stop_all()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--out", required=True)
    a = parser.parse_args()
    binary = os.path.abspath(a.bin)
    plain(binary, os.path.join(os.path.abspath(a.out), "plain"))
    secure(binary, os.path.join(os.path.abspath(a.out), "secure"))
    tokens(binary, os.path.join(os.path.abspath(a.out), "tokens"))
    print(f"{len(failures)} failed" if failures else "all passed", flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
