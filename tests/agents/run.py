#!/usr/bin/python3
"""Worker-only agents with real nomad-lite processes on 127.0.0.1, driven as an operator would.

Plain cluster: 3 servers with --worker-slots 0 (they run no job) and 10 `nomad-lite agent`s.
- the agents register: `cluster status -o json` and REST /api/cluster list 10 agents, each
  with an id no server has;
- 300 jobs (REST submissions; each appends its key to a shared file) all run on agents,
  spread: no agent runs more than twice its share;
- resources and constraints (when `job submit --help` offers --cpu): labels pick the agents,
  a job no agent can hold stays pending with its reason;
- an agent SIGKILLed mid-job: the job re-runs on another agent (its first attempt lost);
- that agent restarted from its data directory keeps its id and re-runs nothing; an agent
  SIGKILLed mid-job and restarted at once keeps its id and runs no attempt twice;
- the leader SIGKILLed while agents run jobs: every job completes, none runs more often than
  it has attempts, and a job with one attempt ran once;
- a memory hog ends failed with reason oom (when --memory exists and the agent has cgroups);
- `bench agents --agents 50 --count 200`: every job placed and finished.
Secure cluster (tls init --nodes 3 --agents 3, tokens): an agent with its certificate runs a
job; an agent presenting another agent's certificate for an id it does not own is refused.

  tests/agents/run.py --bin build/nomad-lite --out build/agents
Exit code 1 when a check fails; one PASS/FAIL (or SKIP) line per check.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TESTS, "support"))
from localhost import free_ports, wait_for  # noqa: E402

SERVERS = (1, 2, 3)
AGENTS = 10
WORKER_TIMEOUT = "3s"
FINAL = ("completed", "failed", "cancelled")

failures = []


def check(name, ok, detail=""):
    print(f"{'PASS' if ok else 'FAIL'} {name}" + (f": {detail}" if detail and not ok else ""),
          flush=True)
    if not ok:
        failures.append(name)
    return ok


def skip(name, why):
    print(f"SKIP {name}: {why}", flush=True)


class Cluster:
    """3 servers (--worker-slots 0) and agents, each a process with its own log."""

    def __init__(self, binary, out, secure=False):
        self.binary, self.out, self.secure = binary, out, secure
        self.certs = os.path.join(out, "certs")
        self.tokens = {}
        self.servers, self.agents = {}, {}  # number -> Popen
        self.ports, self.http_ports, self.agent_ports = {}, {}, {}
        self.agent_args = {}
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        self.runs_file = os.path.join(out, "runs", "runs.txt")
        os.makedirs(os.path.dirname(self.runs_file))
        os.chmod(os.path.dirname(self.runs_file), 0o777)  # jobs of a root process run as nobody
        open(self.runs_file, "w").close()
        os.chmod(self.runs_file, 0o666)
        if secure:
            subprocess.run([binary, "tls", "init", self.certs, "--nodes", "3", "--agents", "3"],
                           check=True, stdout=subprocess.DEVNULL)
            with open(os.path.join(self.certs, "tokens")) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 2 and not parts[0].startswith("#"):
                        self.tokens.setdefault(parts[0], parts[1])

    # --- processes ---------------------------------------------------------------------------

    def tls_args(self, name):
        return ["--tls-cert", os.path.join(self.certs, f"{name}.pem"),
                "--tls-key", os.path.join(self.certs, f"{name}-key.pem"),
                "--tls-ca", os.path.join(self.certs, "ca.pem")]

    def start_server(self, i):
        args = [self.binary, "server", "--node-id", str(i), "--port", str(self.ports[i]),
                "--dashboard-port", str(self.http_ports[i]),
                "--data-dir", os.path.join(self.out, f"server-{i}"), "--worker-slots", "0",
                "--worker-timeout", WORKER_TIMEOUT, "--election-timeout", "300ms",
                "--peers", ",".join(f"{j}:127.0.0.1:{self.ports[j]}" for j in SERVERS if j != i)]
        if self.secure:
            args += self.tls_args(f"node-{i}") + ["--token-file",
                                                  os.path.join(self.certs, "tokens")]
        log = open(os.path.join(self.out, f"server-{i}.log"), "ab")
        self.servers[i] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL, cwd=self.out)
        log.close()

    def start_servers(self):
        ports = free_ports(6)
        for n, i in enumerate(SERVERS):
            self.ports[i], self.http_ports[i] = ports[2 * n], ports[2 * n + 1]
        for i in SERVERS:
            self.start_server(i)

    def server_addrs(self):
        return ",".join(f"127.0.0.1:{self.ports[i]}" for i in SERVERS)

    def start_agent(self, n, extra=(), cert=None, data_dir=None):
        """Agent n (its data directory, port and name are n's unless given)."""
        if n not in self.agent_ports:
            self.agent_ports[n] = free_ports(1)[0]
        args = [self.binary, "agent", "--servers", self.server_addrs(),
                "--node-name", f"agent-{n}", "--slots", "4",
                "--data-dir", data_dir or os.path.join(self.out, f"agent-{n}"),
                "--listen", f"127.0.0.1:{self.agent_ports[n]}"] + list(extra)
        if self.secure:
            args += self.tls_args(f"agent-{cert or n}") + ["--token-file",
                                                           os.path.join(self.certs, "tokens")]
        self.agent_args[n] = (list(extra), cert, data_dir)
        log = open(os.path.join(self.out, f"agent-{n}.log"), "ab")
        self.agents[n] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, cwd=self.out)
        log.close()
        return self.agents[n]

    def restart_agent(self, n):
        extra, cert, data_dir = self.agent_args[n]
        return self.start_agent(n, extra, cert, data_dir)

    def agent_log(self, n):
        with open(os.path.join(self.out, f"agent-{n}.log"), errors="replace") as f:
            return f.read()

    def kill(self, proc, sig=signal.SIGTERM):
        if proc and proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop_all(self):
        for p in list(self.agents.values()) + list(self.servers.values()):
            self.kill(p)

    # --- the client side ---------------------------------------------------------------------

    def live_servers(self):
        return [i for i in SERVERS if self.servers[i].poll() is None]

    def cli(self, args, role="operator", timeout=30, server=None):
        addrs = ",".join(f"127.0.0.1:{self.ports[i]}"
                         for i in ([server] if server else self.live_servers()))
        cmd = [self.binary, "--addr", addrs, "-o", "json"] + args
        env = dict(os.environ)
        if self.secure:
            env.update({"NOMAD_LITE_CACERT": os.path.join(self.certs, "ca.pem"),
                        "NOMAD_LITE_CLIENT_CERT": os.path.join(self.certs, "client.pem"),
                        "NOMAD_LITE_CLIENT_KEY": os.path.join(self.certs, "client-key.pem"),
                        "NOMAD_LITE_TOKEN": self.tokens[role]})
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            return 124, "", "timed out"
        return r.returncode, r.stdout, r.stderr

    def cli_json(self, args, **kw):
        rc, out, _ = self.cli(args, **kw)
        if rc != 0:
            return None
        try:
            return json.loads(out)
        except ValueError:
            return None

    def status(self):
        """cluster status as the leader answers it (a follower does not hear the agents)."""
        seen = None
        for i in self.live_servers():
            s = self.cli_json(["cluster", "status"], role="read", timeout=10, server=i)
            if s and s.get("role") == "leader":
                return s
            seen = seen or s
        return seen

    def leader(self):
        s = self.status()
        return s["leader_id"] if s and s.get("leader_id") in SERVERS else None

    def agent_nodes(self, status=None):
        """The agents cluster status lists: {id: node}."""
        s = status or self.status() or {}
        return {n["id"]: n for n in s.get("nodes", [])
                if n.get("role") == "agent" or n.get("agent") is True}

    def alive_agents(self):
        return {i for i, n in self.agent_nodes().items() if n.get("alive")}

    def rest(self, method, path, body=None, server=None):
        server = server or (self.leader() or self.live_servers()[0])
        url = f"http://127.0.0.1:{self.http_ports[server]}{path}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, None
        except (urllib.error.URLError, OSError, ValueError):
            return 0, None

    def submit_many(self, keys, command_of, threads=8):
        """REST submissions, a few in parallel; returns {key: job id} of those acknowledged."""
        ids, lock = {}, threading.Lock()
        todo = list(keys)
        server = self.leader()

        def worker():
            while True:
                with lock:
                    if not todo:
                        return
                    key = todo.pop()
                for _ in range(20):  # a leader change: retried with the same key
                    code, job = self.rest("POST", "/api/jobs", {"command": command_of(key),
                                                                "idempotency_key": key},
                                          server=server)
                    if code in (200, 201) and job and job.get("id"):
                        with lock:
                            ids[key] = job["id"]
                        break
                    time.sleep(0.1)  # a backoff between retries

        pool = [threading.Thread(target=worker) for _ in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join(120)
        return ids

    def submit(self, command, extra=(), role="submit"):
        job = self.cli_json(["job", "submit"] + list(extra) + ["--", "sh", "-c", command],
                            role=role)
        return job["id"] if job else None

    def job(self, job_id):
        return self.cli_json(["job", "status", job_id], role="read", timeout=10)

    def jobs(self):
        j = self.cli_json(["job", "list"], role="read", timeout=30)
        return {x["id"]: x for x in j["jobs"]} if j else None

    def wait_final(self, ids, timeout):
        """Waits until every job in ids is final; returns {id: job} (or None on timeout)."""
        def all_final():
            jobs = self.jobs()
            if jobs is None or any(jobs.get(i, {}).get("status") not in FINAL for i in ids):
                return None
            return jobs
        return wait_for(all_final, timeout, 0.3)

    def runs(self):
        counts = {}
        with open(self.runs_file) as f:
            for line in f:
                counts[line.strip()] = counts.get(line.strip(), 0) + 1
        return counts

    def mark(self, key, then=""):
        return f"echo {key} >> {self.runs_file}" + (f"; {then}" if then else "")


def cli_offers(binary, words, flag):
    r = subprocess.run([binary] + words + ["--help"], capture_output=True, text=True)
    return flag in r.stdout


# --- the plain cluster -------------------------------------------------------------------------

def check_registration(c):
    status = wait_for(lambda: (lambda s: s if len(c.agent_nodes(s)) >= AGENTS and all(
        n.get("alive") for n in c.agent_nodes(s).values()) else None)(c.status()), 30, 0.3)
    agents = c.agent_nodes(status)
    check(f"cluster status -o json lists {AGENTS} agents, alive", len(agents) == AGENTS,
          str(status))
    check("agent ids are none of the servers'", not set(agents) & set(SERVERS), str(agents))
    _, body = c.rest("GET", "/api/cluster")
    rest_agents = {n["id"] for n in (body or {}).get("nodes", [])
                   if n.get("role") == "agent" or n.get("agent") is True}
    check("REST /api/cluster lists the agents", rest_agents == set(agents), str(body))
    return set(agents)


def check_spread(c, agent_ids):
    keys = [f"s{n:03d}" for n in range(300)]
    ids = c.submit_many(keys, lambda k: c.mark(k, "sleep 0.05"))
    check("300 jobs acknowledged", len(ids) == 300, f"{len(ids)} acknowledged")
    jobs = c.wait_final(ids.values(), 60)
    if not check("the 300 jobs end", jobs is not None):
        return
    done = [jobs[i] for i in ids.values()]
    check("every job completed", all(j["status"] == "completed" for j in done),
          str([j for j in done if j["status"] != "completed"][:2]))
    on = {}
    for j in done:
        on[j["node_id"]] = on.get(j["node_id"], 0) + 1
    check("every job ran on an agent (node_id is an agent id)", set(on) <= agent_ids, str(on))
    share = 300 / len(agent_ids)
    check("spread: no agent ran more than twice its share",
          max(on.values()) <= 2 * share and len(on) == len(agent_ids), str(on))
    runs = c.runs()
    check("each job ran once", all(runs.get(k) == 1 for k in keys),
          str([(k, runs.get(k)) for k in keys if runs.get(k) != 1][:5]))
    print(f"  jobs per agent: {sorted(on.values())}", flush=True)


def check_resources(c, agent_ids, zone_a):
    if not cli_offers(c.binary, ["job", "submit"], "--cpu"):
        skip("resources and constraints", "job submit has no --cpu in this build")
        return
    ids = {}
    for n in range(10):
        ids[c.submit(c.mark(f"za{n}"), ["--constraint", "zone==a"])] = "a"
        ids[c.submit(c.mark(f"zb{n}"), ["--constraint", "zone!=a"])] = "b"
    jobs = c.wait_final([i for i in ids if i], 30)
    if check("constrained jobs end", jobs is not None and None not in ids):
        wrong = [(i, jobs[i]["node_id"]) for i, zone in ids.items()
                 if (jobs[i]["node_id"] in zone_a) != (zone == "a")]
        check("zone==a runs only on agents labelled zone=a, zone!=a only elsewhere", not wrong,
              str(wrong))
    big = c.submit("true", ["--cpu", "64"])
    nowhere = c.submit("true", ["--constraint", "gpu==true"])
    for job_id, what, words in ((big, "--cpu 64", ("cpu", "core")),
                                (nowhere, "--constraint gpu==true", ("gpu",))):
        job = wait_for(lambda: (lambda j: j if j and j.get("pending_reason") else None)(
            c.job(job_id)) if job_id else None, 10, 0.3)
        check(f"a job that fits no agent ({what}) stays pending with its reason",
              job is not None and job["status"] == "pending" and any(
                  w in job["pending_reason"].lower() for w in words), str(job))
        if job_id:
            c.cli(["job", "cancel", job_id])
    mem = [c.submit(c.mark(f"m{n}", "sleep 0.5"), ["--memory", "600MiB", "--cpu", "0.5"])
           for n in range(8)]
    jobs = c.wait_final([m for m in mem if m], 40)
    if check("jobs with --memory and --cpu run on agents", jobs is not None and None not in mem):
        check("... and each ran on an agent",
              all(jobs[m]["node_id"] in agent_ids and jobs[m]["status"] == "completed"
                  for m in mem), str([jobs[m] for m in mem][:2]))


def running_on_agent(c, job_id, key):
    """The agent running job_id once it has started (its mark is in the file), or None."""
    def started():
        j = c.job(job_id)
        if j and j["status"] == "running" and j.get("node_id") and c.runs().get(key):
            return j["node_id"]
        return None
    return wait_for(started, 20, 0.1)


def check_agent_loss_and_restart(c, by_id):
    """by_id: agent id -> agent number (its process)."""
    job_id = c.submit(c.mark("lost1", "sleep 3"))
    victim_id = running_on_agent(c, job_id, "lost1")
    if not check("a long job starts on an agent", victim_id in by_id, str(c.job(job_id))):
        return
    victim = by_id[victim_id]
    c.kill(c.agents[victim], signal.SIGKILL)
    job = wait_for(lambda: (lambda j: j if j and j["status"] in FINAL else None)(c.job(job_id)),
                   30, 0.3)
    check("an agent SIGKILLed mid-job: the job re-runs and completes on another agent",
          job is not None and job["status"] == "completed" and job["node_id"] != victim_id and
          job["node_id"] in by_id, str(job))
    if job:
        first = job["attempts"][0]
        check("... its first attempt, on the killed agent, is lost",
              first["node_id"] == victim_id and first.get("reason") == "lost", str(first))
    check("... the killed agent is shown not alive",
          wait_for(lambda: victim_id not in c.alive_agents(), 10, 0.3))

    # Restarted from its data directory: the same id, and it runs its old attempt no more.
    before = c.runs().get("lost1", 0)
    count = len(c.agent_nodes())
    c.restart_agent(victim)
    check("the agent restarted from its data directory is back with the same id",
          wait_for(lambda: victim_id in c.alive_agents(), 20, 0.3), str(c.agent_nodes()))
    check("... and no new agent id was given", len(c.agent_nodes()) == count,
          str(sorted(c.agent_nodes())))
    rerun = wait_for(lambda: c.runs().get("lost1", 0) != before, 3, 0.2)
    check("... and it re-runs nothing (its killed attempt stays lost)", not rerun,
          f"lost1 ran {c.runs().get('lost1')} times")

    # SIGKILLed mid-job and restarted at once, before the leader could declare it lost.
    job_id = c.submit(c.mark("quick1", "sleep 2"))
    quick_id = running_on_agent(c, job_id, "quick1")
    if not check("another long job starts on an agent", quick_id in by_id, str(c.job(job_id))):
        return
    quick = by_id[quick_id]
    c.kill(c.agents[quick], signal.SIGKILL)
    c.restart_agent(quick)
    job = wait_for(lambda: (lambda j: j if j and j["status"] in FINAL else None)(c.job(job_id)),
                   30, 0.3)
    check("an agent SIGKILLed mid-job and restarted at once: the job ends completed",
          job is not None and job["status"] == "completed", str(job))
    check("... the agent keeps its id", wait_for(lambda: quick_id in c.alive_agents(), 20, 0.3))
    if job:
        runs = c.runs().get("quick1", 0)
        check("... and no attempt ran twice (runs <= attempts)",
              1 <= runs <= len(job["attempts"]), f"{runs} runs, {len(job['attempts'])} attempts")


def check_leader_kill(c):
    keys = [f"L{n:02d}" for n in range(60)]
    ids = c.submit_many(keys, lambda k: c.mark(k, "sleep 1"))
    check("60 jobs acknowledged before the leader is killed", len(ids) == 60, str(len(ids)))
    wait_for(lambda: len(c.runs().keys() & set(keys)) >= 10, 20, 0.1)
    old = c.leader()
    c.kill(c.servers[old], signal.SIGKILL)
    new = wait_for(lambda: (lambda l: l if l and l != old else None)(c.leader()), 15, 0.2)
    check("the leader SIGKILLed while agents run jobs: another server leads", new is not None)
    c.start_server(old)
    jobs = c.wait_final(ids.values(), 60)
    if not check("every job ends after the leader change", jobs is not None):
        return
    done = {k: jobs[i] for k, i in ids.items()}
    check("nothing lost: every job completed",
          all(j["status"] == "completed" for j in done.values()),
          str([j for j in done.values() if j["status"] != "completed"][:2]))
    runs = c.runs()
    twice = [(k, runs.get(k, 0), len(j["attempts"])) for k, j in done.items()
             if runs.get(k, 0) > len(j["attempts"]) or runs.get(k, 0) == 0]
    check("nothing run twice: each job ran once per attempt at most, and at least once",
          not twice, str(twice[:5]))
    reruns = sum(1 for j in done.values() if len(j["attempts"]) > 1)
    print(f"  {reruns} of 60 jobs took a second attempt across the leader change", flush=True)


def check_oom(c):
    if not cli_offers(c.binary, ["job", "submit"], "--memory"):
        skip("memory hog killed as oom", "job submit has no --memory in this build")
        return
    hog = "head -c 400000000 /dev/zero | tail > /dev/null"  # tail holds its whole input
    job_id = c.submit(hog, ["--memory", "64MiB"])
    job = wait_for(lambda: (lambda j: j if j and j["status"] in FINAL else None)(c.job(job_id)),
                   30, 0.3) if job_id else None
    logs = "".join(c.agent_log(n) for n in c.agents)
    if job and job["status"] == "completed" and "advisory" in logs:
        skip("memory hog killed as oom", "the agents have no cgroups (limits advisory)")
        return
    check("a memory hog (--memory 64MiB) ends failed with reason oom",
          job is not None and job["status"] == "failed" and job.get("reason") == "oom", str(job))


def check_bench_smoke(c):
    try:
        r = subprocess.run([c.binary, "bench", "agents", "--servers", c.server_addrs(),
                            "--agents", "50", "--count", "200", "--idle", "1s"],
                           capture_output=True, text=True, timeout=90)
        report = json.loads(r.stdout.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, ValueError, IndexError):
        check("bench agents --agents 50 --count 200 prints its JSON line", False)
        return
    check("bench agents --agents 50 --count 200: every agent registered and connected",
          report["registered"] == 50 and report["connected"] == 50, r.stdout + r.stderr)
    check("... every job placed and finished on the simulated agents",
          report["placed"] == 200 and report["finished"] == 200 and r.returncode == 0,
          r.stdout + r.stderr)
    check("... the leader measured through its pid",
          report["leader_pid"] and report["leader_cpu_ms_per_job"] is not None, r.stdout)
    print(f"  bench: {r.stdout.strip()}", flush=True)


def plain(binary, out):
    c = Cluster(binary, os.path.join(out, "plain"))
    try:
        c.start_servers()
        check("3 servers (--worker-slots 0) elect a leader", wait_for(c.leader, 20, 0.2))
        resources = cli_offers(binary, ["agent"], "--label")
        for n in range(1, AGENTS + 1):
            labels = ["--label", f"zone={'a' if n <= 5 else 'b'}"] if resources else []
            c.start_agent(n, labels + (["--cpu", "2", "--memory", "2GiB"] if resources else []))
        agent_ids = check_registration(c)
        by_id = {}  # agent id -> agent number, from the id each kept in its data directory
        for n in range(1, AGENTS + 1):
            try:
                with open(os.path.join(c.out, f"agent-{n}", "agent.json")) as f:
                    by_id[json.load(f)["id"]] = n
            except (OSError, ValueError, KeyError):
                pass
        check("each agent kept the id it was given in its data directory (agent.json)",
              set(by_id) == agent_ids, f"{by_id} vs {agent_ids}")
        zone_a = {i for i, n in by_id.items() if n <= 5}
        check_spread(c, agent_ids)
        check_resources(c, agent_ids, zone_a)
        check_agent_loss_and_restart(c, by_id)
        check_leader_kill(c)
        check_oom(c)
        check_bench_smoke(c)
    finally:
        c.stop_all()


# --- the secure cluster ------------------------------------------------------------------------

def secure(binary, out):
    c = Cluster(binary, os.path.join(out, "secure"), secure=True)
    try:
        c.start_servers()
        check("secure: 3 servers elect a leader", wait_for(c.leader, 20, 0.2))
        c.start_agent(1)
        c.start_agent(2)
        check("secure: 2 agents with their certificates register and stay alive",
              wait_for(lambda: len(c.alive_agents()) == 2, 30, 0.3), str(c.status()))
        job_id = c.submit(c.mark("tls1"))
        job = wait_for(lambda: (lambda j: j if j and j["status"] in FINAL else None)(
            c.job(job_id)), 30, 0.3) if job_id else None
        check("secure: a job runs on an agent",
              job is not None and job["status"] == "completed" and
              job["node_id"] in c.alive_agents(), str(job))

        # Agent 3 presents agent 1's certificate while claiming agent 2's id (a copy of its
        # data directory): refused, and it never shows as a third agent.
        c.kill(c.agents[2])
        stolen = os.path.join(c.out, "agent-3-stolen")
        shutil.copytree(os.path.join(c.out, "agent-2"), stolen)
        impostor = c.start_agent(3, cert=1, data_dir=stolen)
        refused = wait_for(lambda: impostor.poll() is not None or any(
            w in c.agent_log(3) for w in ("PERMISSION_DENIED", "refused", "not allowed")), 20,
            0.2)
        log3 = c.agent_log(3)
        check("secure: an agent presenting another agent's certificate for an id is refused",
              refused and (impostor.poll() not in (None, 0) or "PERMISSION_DENIED" in log3),
              log3[-800:])
        check("... and is not counted as an agent", len(c.agent_nodes()) == 2,
              str(c.agent_nodes()))
    finally:
        c.stop_all()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default="build/nomad-lite")
    parser.add_argument("--out", default="build/agents")
    parser.add_argument("--only", choices=["plain", "secure"])
    a = parser.parse_args()
    binary = os.path.abspath(a.bin)
    if not cli_offers(binary, [], "agent"):
        print(f"FAIL {binary} has no agent command", flush=True)
        return 1
    started = time.monotonic()
    if a.only in (None, "plain"):
        plain(binary, os.path.abspath(a.out))
    if a.only in (None, "secure"):
        secure(binary, os.path.abspath(a.out))
    print(f"{'FAILED' if failures else 'passed'} in {time.monotonic() - started:.0f} s"
          + (f": {', '.join(failures)}" if failures else ""), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
