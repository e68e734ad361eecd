#!/usr/bin/python3
"""Worker-only agents with real nomad-lite processes on 127.0.0.1, driven as an operator would.

Plain cluster: 3 servers with --worker-slots 0 (they run no job) and 10 `nomad-lite agent`s.
- the agents register: `cluster status -o json` and REST /api/cluster list 10 agents, each
  with an id above 100 that no server has, and its address;
- 300 jobs (REST submissions; each appends its key to a shared file) all run on agents,
  spread: no agent runs more than twice its share;
- `job logs` through a follower returns an agent's whole output (more than the replicated
  tail);
- resources and constraints (when `job submit --help` offers --cpu): labels pick the agents,
  a job no agent can hold stays pending with its reason;
- an agent SIGKILLed mid-job: the job re-runs on another agent (its first attempt lost);
- that agent restarted from its data directory keeps its id and re-runs nothing; an agent
  SIGKILLed mid-job and restarted at once keeps its id, reports its attempt lost and runs no
  attempt twice;
- the leader SIGKILLed while agents run jobs: every job completes, no attempt is lost, none
  runs more often than it has attempts, and the agents follow the new leader;
- `server --join` with an agent's id is refused;
- a memory hog ends failed with reason oom (when --memory exists and the agent has cgroups);
- `bench agents --agents 50 --count 200`: every job placed and finished.
Secure cluster (tls init --nodes 3 --agents 3, tokens): an agent with its certificate runs a
job whose output a server fetches from it over TLS; an agent presenting another agent's
certificate for an id it does not own is refused, naming the agent that registered the id.
Tokens without TLS (one server): an agent without the token file is refused; with it, it
registers and runs a job. Killed, it is forgotten after --forget-agents-after (2 s here);
started again it exits 2 saying to delete agent.json, and without it registers anew.

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
import urllib.request

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TESTS, "support"))
import processes  # noqa: E402
from checks import check, finish, skip  # noqa: E402
from job_runs import RunsFile  # noqa: E402
from local_cluster import LocalCluster  # noqa: E402
from localhost import free_ports, wait_for  # noqa: E402

SERVERS = (1, 2, 3)
AGENTS = 10
WORKER_TIMEOUT = "3s"
FORGET_AFTER = "2s"


class AgentCluster(LocalCluster):
    """Servers with --worker-slots 0 (3, or those given) and agents, each a process with its
    own log; jobs note their runs in one file (self.runs)."""

    def __init__(self, binary, out, secure=False, token_file=None):
        super().__init__(binary, out, secure, agents=3, token_file=token_file, dashboards=True,
                         server_args=["--worker-slots", "0", "--worker-timeout", WORKER_TIMEOUT,
                                      "--election-timeout", "300ms"])
        self.agents, self.agent_ports, self.agent_args = {}, {}, {}  # by agent number
        self.runs = RunsFile(os.path.join(out, "runs", "runs.txt"))

    def start_agent(self, n, extra=(), cert=None, data_dir=None, security=None):
        """Agent n (its data directory, port and name are n's unless given); security: its
        TLS and token flags if not those of certificate agent-<cert or n>."""
        if n not in self.agent_ports:
            self.agent_ports[n] = free_ports(1)[0]
        if security is None:
            security = self.security_args(f"agent-{cert or n}")
        args = [self.binary, "agent", "--servers", self.addrs(sorted(self.procs)),
                "--node-name", f"agent-{n}", "--slots", "4",
                "--data-dir", data_dir or self.agent_dir(n),
                "--listen", f"127.0.0.1:{self.agent_ports[n]}"] + list(extra) + security
        self.agent_args[n] = (list(extra), cert, data_dir, security)
        self.agents[n] = self.spawn(args, f"agent-{n}.log")
        return self.agents[n]

    def restart_agent(self, n):
        return self.start_agent(n, *self.agent_args[n])

    def kill_agent(self, n, sig=signal.SIGTERM):
        processes.stop(self.agents[n], sig)

    def agent_dir(self, n):
        return os.path.join(self.out, f"agent-{n}")

    def agent_log(self, n):
        return self.log_of(f"agent-{n}.log")

    def agent_id(self, n):
        """The id agent n keeps in its data directory (agent.json), or None."""
        try:
            with open(os.path.join(self.agent_dir(n), "agent.json")) as f:
                return json.load(f)["id"]
        except (OSError, ValueError, KeyError):
            return None

    def agent_nodes(self, status=None):
        """The agents cluster status lists: {id: node}."""
        s = status or self.status() or {}
        return {n["id"]: n for n in s.get("nodes", [])
                if n.get("role") == "agent" or n.get("agent") is True}

    def alive_agents(self):
        return {i for i, n in self.agent_nodes().items() if n.get("alive")}

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
                                          node=server)
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

    def mark(self, key, then=""):
        return self.runs.command(key, then)


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
    check("agent ids are above 100 and none is a server's",
          all(i > 100 for i in agents) and not set(agents) & set(SERVERS), str(agents))
    check("cluster status lists each agent with its address",
          agents and all(n.get("address") for n in agents.values()), str(agents))
    _, body = c.rest("GET", "/api/cluster")
    rest_agents = {n["id"] for n in (body or {}).get("nodes", [])
                   if n.get("role") == "agent" or n.get("agent") is True}
    check("REST /api/cluster lists the agents", rest_agents == set(agents), str(body))
    return set(agents)


def leader_metrics(c):
    """{sample: value} from the leader's GET /metrics ({} when it did not answer)."""
    leader = c.leader()
    if not leader:
        return {}
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{c.http_ports[leader]}/metrics",
                                    timeout=10) as r:
            text = r.read().decode()
    except OSError:
        return {}
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def check_idle_agents(c, agent_ids):
    """Idle agents report every 30 s: the leader knows them alive by their open streams."""
    agent_reports = 'nomad_lite_worker_reports_received_total{sender="agent"}'
    first = leader_metrics(c)
    check("the leader counts every agent's stream open (nomad_lite_agent_streams_open)",
          first.get("nomad_lite_agent_streams_open") == len(agent_ids), str(first))
    # 8 s: over twice --worker-timeout, in which agents reporting every 2 s would send 4
    # reports each. (Each has reported already: alive needs its slots.)
    before = leader_metrics(c).get(agent_reports)
    deadline, samples, always_alive = time.time() + 8, 0, True
    while time.time() < deadline:
        alive = c.alive_agents()
        always_alive = always_alive and alive >= agent_ids
        samples += 1
        time.sleep(0.5)
    after = leader_metrics(c).get(agent_reports)
    check(f"idle agents stay alive for 8 s (--worker-timeout {WORKER_TIMEOUT}) without reporting",
          always_alive and samples >= 4, f"{samples} looks")
    sent = None if before is None or after is None else after - before
    check(f"... and send at most one report each meanwhile (every 30 s when idle)",
          sent is not None and sent <= len(agent_ids), f"{sent} reports from {len(agent_ids)}")


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
    runs = c.runs.counts()
    check("each job ran once", all(runs.get(k) == 1 for k in keys),
          str([(k, runs.get(k)) for k in keys if runs.get(k) != 1][:5]))
    print(f"  jobs per agent: {sorted(on.values())}", flush=True)


def check_logs_through_follower(c):
    """More output than the replicated tail: a follower fetches it from the agent."""
    job_id = c.submit("head -c 200000 /dev/zero | tr '\\0' x")
    c.wait_ended(job_id)
    follower = next(i for i in c.live() if i != c.leader())
    rc, logs, err = c.cli(["job", "logs", job_id or "none"], node=follower, role="read")
    check("job logs through a follower returns an agent's job's whole output",
          rc == 0 and len(logs) == 200000, f"rc {rc}, {len(logs)} bytes, {err.strip()}")


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
        if j and j["status"] == "running" and j.get("node_id") and c.runs.counts().get(key):
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
    c.kill_agent(victim, signal.SIGKILL)
    job = c.wait_ended(job_id)
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
    before = c.runs.counts().get("lost1", 0)
    count = len(c.agent_nodes())
    c.restart_agent(victim)
    check("the agent restarted from its data directory is back with the same id",
          wait_for(lambda: victim_id in c.alive_agents(), 20, 0.3), str(c.agent_nodes()))
    check("... and no new agent id was given", len(c.agent_nodes()) == count,
          str(sorted(c.agent_nodes())))
    rerun = wait_for(lambda: c.runs.counts().get("lost1", 0) != before, 3, 0.2)
    check("... and it re-runs nothing (its killed attempt stays lost)", not rerun,
          f"lost1 ran {c.runs.counts().get('lost1')} times")

    # SIGKILLed mid-job and restarted at once, before the leader could declare it lost.
    job_id = c.submit(c.mark("quick1", "sleep 2"))
    quick_id = running_on_agent(c, job_id, "quick1")
    if not check("another long job starts on an agent", quick_id in by_id, str(c.job(job_id))):
        return
    quick = by_id[quick_id]
    c.kill_agent(quick, signal.SIGKILL)
    c.restart_agent(quick)
    job = c.wait_ended(job_id)
    check("an agent SIGKILLed mid-job and restarted at once: the job ends completed",
          job is not None and job["status"] == "completed", str(job))
    check("... the agent keeps its id", wait_for(lambda: quick_id in c.alive_agents(), 20, 0.3))
    if job:
        runs = c.runs.counts().get("quick1", 0)
        check("... and no attempt ran twice (runs <= attempts)",
              1 <= runs <= len(job["attempts"]), f"{runs} runs, {len(job['attempts'])} attempts")
        check("... the attempt it had is lost, not resumed",
              job["attempts"][0].get("reason") == "lost", str(job["attempts"]))


def check_leader_kill(c, agent_ids):
    keys = [f"L{n:02d}" for n in range(60)]
    ids = c.submit_many(keys, lambda k: c.mark(k, "sleep 1"))
    check("60 jobs acknowledged before the leader is killed", len(ids) == 60, str(len(ids)))
    wait_for(lambda: len(c.runs.counts().keys() & set(keys)) >= 10, 20, 0.1)
    old = c.leader()
    c.stop(old, signal.SIGKILL)
    new = wait_for(lambda: (lambda l: l if l and l != old else None)(c.leader()), 15, 0.2)
    check("the leader SIGKILLed while agents run jobs: another server leads", new is not None)
    c.restart(old)
    jobs = c.wait_final(ids.values(), 60)
    if not check("every job ends after the leader change", jobs is not None):
        return
    done = {k: jobs[i] for k, i in ids.items()}
    check("nothing lost: every job completed",
          all(j["status"] == "completed" for j in done.values()),
          str([j for j in done.values() if j["status"] != "completed"][:2]))
    lost = [(k, [a.get("reason") for a in j["attempts"]]) for k, j in done.items()
            if any(a.get("reason") == "lost" for a in j["attempts"])]
    check("... and no attempt was declared lost across the leader change", not lost,
          str(lost[:5]))
    check("the agents follow the new leader",
          wait_for(lambda: c.alive_agents() >= agent_ids, 20, 0.2), str(c.alive_agents()))
    runs = c.runs.counts()
    twice = [(k, runs.get(k, 0), len(j["attempts"])) for k, j in done.items()
             if runs.get(k, 0) > len(j["attempts"]) or runs.get(k, 0) == 0]
    check("nothing run twice: each job ran once per attempt at most, and at least once",
          not twice, str(twice[:5]))
    reruns = sum(1 for j in done.values() if len(j["attempts"]) > 1)
    print(f"  {reruns} of 60 jobs took a second attempt across the leader change", flush=True)


def check_join_with_agent_id(c, agent_ids):
    port = free_ports(1)[0]
    r = subprocess.run([c.binary, "server", "--node-id", str(min(agent_ids)), "--port", str(port),
                        "--join", c.addrs(SERVERS), "--data-dir", os.path.join(c.out, "joiner")],
                       capture_output=True, text=True, timeout=30, cwd=c.out)
    check("server --join with an agent's id is refused (exit code 2, naming the agent)",
          r.returncode == 2 and "agent" in r.stderr, f"{r.returncode} {r.stderr.strip()[-300:]}")


def check_oom(c):
    if not cli_offers(c.binary, ["job", "submit"], "--memory"):
        skip("memory hog killed as oom", "job submit has no --memory in this build")
        return
    hog = "head -c 400000000 /dev/zero | tail > /dev/null"  # tail holds its whole input
    job_id = c.submit(hog, ["--memory", "64MiB"])
    job = c.wait_ended(job_id) if job_id else None
    logs = "".join(c.agent_log(n) for n in c.agents)
    if job and job["status"] == "completed" and "advisory" in logs:
        skip("memory hog killed as oom", "the agents have no cgroups (limits advisory)")
        return
    check("a memory hog (--memory 64MiB) ends failed with reason oom",
          job is not None and job["status"] == "failed" and job.get("reason") == "oom", str(job))


def check_bench_smoke(c):
    try:
        r = subprocess.run([c.binary, "bench", "agents", "--servers", c.addrs(SERVERS),
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
    c = AgentCluster(binary, os.path.join(out, "plain"))
    try:
        c.bootstrap()
        check("3 servers (--worker-slots 0) elect a leader", wait_for(c.leader, 20, 0.2))
        resources = cli_offers(binary, ["agent"], "--label")
        for n in range(1, AGENTS + 1):
            labels = ["--label", f"zone={'a' if n <= 5 else 'b'}"] if resources else []
            c.start_agent(n, labels + (["--cpu", "2", "--memory", "2GiB"] if resources else []))
        agent_ids = check_registration(c)
        check_idle_agents(c, agent_ids)
        # agent id -> agent number, from the id each kept in its data directory
        by_id = {c.agent_id(n): n for n in range(1, AGENTS + 1) if c.agent_id(n)}
        check("each agent kept the id it was given in its data directory (agent.json)",
              set(by_id) == agent_ids, f"{by_id} vs {agent_ids}")
        zone_a = {i for i, n in by_id.items() if n <= 5}
        check_spread(c, agent_ids)
        check_logs_through_follower(c)
        check_resources(c, agent_ids, zone_a)
        check_agent_loss_and_restart(c, by_id)
        check_leader_kill(c, agent_ids)
        check_join_with_agent_id(c, agent_ids)
        check_oom(c)
        check_bench_smoke(c)
    finally:
        c.stop_all()


# --- the secure cluster ------------------------------------------------------------------------

def secure(binary, out):
    c = AgentCluster(binary, os.path.join(out, "secure"), secure=True)
    try:
        c.bootstrap()
        check("secure: 3 servers elect a leader", wait_for(c.leader, 20, 0.2))
        c.start_agent(1)
        c.start_agent(2)
        check("secure: 2 agents with their certificates register and stay alive",
              wait_for(lambda: len(c.alive_agents()) == 2, 30, 0.3), str(c.status()))
        job_id = c.submit(c.mark("tls1", "head -c 100000 /dev/zero | tr '\\0' y"))
        job = c.wait_ended(job_id)
        check("secure: a job runs on an agent",
              job is not None and job["status"] == "completed" and
              job["node_id"] in c.alive_agents(), str(job))
        rc, logs, err = c.cli(["job", "logs", job_id or "none"], role="read")
        check("secure: its whole output is fetched from the agent over TLS",
              rc == 0 and len(logs) == 100000, f"rc {rc}, {len(logs)} bytes, {err.strip()}")

        # Agent 3 presents agent 1's certificate while claiming agent 2's id (a copy of its
        # data directory): refused, and it never shows as a third agent.
        c.kill_agent(2)
        stolen = os.path.join(c.out, "agent-3-stolen")
        shutil.copytree(os.path.join(c.out, "agent-2"), stolen)
        impostor = c.start_agent(3, cert=1, data_dir=stolen)
        # Until it exits (or the log shows the refusal code): the refusal is logged a moment
        # before the process ends, and a check in between saw a refused agent still running.
        refused = wait_for(lambda: impostor.poll() is not None
                           or "PERMISSION_DENIED" in c.agent_log(3), 20, 0.2)
        log3 = c.agent_log(3)
        check("secure: an agent presenting another agent's certificate for an id is refused",
              refused and (impostor.poll() not in (None, 0) or "PERMISSION_DENIED" in log3),
              log3[-800:])
        check("... and is not counted as an agent", len(c.agent_nodes()) == 2,
              str(c.agent_nodes()))
        exited = wait_for(lambda: impostor.poll() is not None, 10, 0.1)
        check("... it exits 2 naming the agent that registered that id",
              exited and impostor.returncode == 2 and "registered by agent-2" in c.agent_log(3),
              f"{impostor.returncode} {c.agent_log(3)[-300:]}")
        check_tls_fleet(c)
    finally:
        c.stop_all()


def check_tls_fleet(c, agents=300, jobs=1000):
    """A fleet connecting at once over TLS: each connection costs a server a handshake. With
    connect timeouts shorter than a loaded handshake, no connection came up and the servers
    elected a leader every few seconds (0 of 300 agents connected in 60 s)."""
    cmd, env = c.cli_command(["bench", "agents", "--servers", c.addrs(SERVERS), "--agents",
                              str(agents), "--count", str(jobs), "--idle", "1s"],
                             role="submit", output=None)
    # Agent certificate 3 was the impostor's: the simulated agents register with it.
    env["NOMAD_LITE_CLIENT_CERT"] = os.path.join(c.certs, "agent-3.pem")
    env["NOMAD_LITE_CLIENT_KEY"] = os.path.join(c.certs, "agent-3-key.pem")
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
        report = json.loads(r.stdout.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, ValueError, IndexError):
        check(f"secure: bench agents --agents {agents} over TLS prints its JSON line", False)
        return
    check(f"secure: {agents} simulated agents connect at once over TLS and run {jobs} jobs",
          r.returncode == 0 and report["connected"] == agents and report["finished"] == jobs,
          r.stdout[-1500:] + r.stderr[-500:])
    # About 1.3 s here; 10 s when handshakes were abandoned and redialled every 300 ms.
    check("... every agent had both streams up within 5 s", report["connect_s"] < 5,
          f"{report['connect_s']} s")
    print(f"  TLS bench: {r.stdout.strip()}", flush=True)


# --- tokens without TLS ------------------------------------------------------------------------

def tokens_only(binary, out):
    """One server with a token file and no TLS (nothing here needs three): an agent must
    present the file's operator token."""
    out = os.path.join(out, "tokens")
    token_file = os.path.join(out + "-file", "tokens")
    os.makedirs(os.path.dirname(token_file), exist_ok=True)
    with open(token_file, "w") as f:
        f.write("operator " + os.urandom(32).hex() + "\n")
    os.chmod(token_file, 0o600)
    c = AgentCluster(binary, out, token_file=token_file)
    try:
        c.bootstrap(ids=(1,), extra=["--forget-agents-after", FORGET_AFTER])
        check("tokens: a server with a token file leads", wait_for(c.leader, 20, 0.1))
        without = c.start_agent(1, security=[])
        exited = wait_for(lambda: without.poll() is not None, 20, 0.1)
        check("tokens: an agent without the operator token is refused (exit code 2)",
              exited and without.returncode == 2 and "refused" in c.agent_log(1),
              f"{without.returncode} {c.agent_log(1)[-300:]}")
        c.start_agent(2)
        agent = wait_for(lambda: c.agent_id(2), 20, 0.1)
        check("tokens: an agent with the servers' token file registers",
              agent and wait_for(lambda: agent in c.alive_agents(), 20, 0.1), str(c.status()))
        job = c.wait_ended(c.submit("echo tokens"))
        check("tokens: its job completes on it",
              job is not None and job["status"] == "completed" and job["node_id"] == agent,
              str(job))

        # Gone for good: forgotten after --forget-agents-after, and told so when it returns.
        c.kill_agent(2, signal.SIGKILL)
        check(f"forget: an agent silent for {FORGET_AFTER} is forgotten (gone from status)",
              wait_for(lambda: agent not in c.agent_nodes(), 15, 0.2), str(c.status()))
        returned = c.restart_agent(2)
        exited = wait_for(lambda: returned.poll() is not None, 20, 0.1)
        check("forget: started again it is refused, told to delete agent.json (exit code 2)",
              exited and returned.returncode == 2 and "forgotten" in c.agent_log(2)
              and "agent.json" in c.agent_log(2), f"{returned.returncode} {c.agent_log(2)[-400:]}")
        os.remove(os.path.join(c.agent_dir(2), "agent.json"))
        c.restart_agent(2)
        renewed = wait_for(lambda: c.agent_id(2) not in (None, agent) and c.agent_id(2), 20, 0.1)
        check("forget: with agent.json deleted it registers under a new, higher id",
              renewed and renewed > agent and wait_for(lambda: renewed in c.alive_agents(), 20,
                                                        0.1), f"{renewed} {c.status()}")
    finally:
        c.stop_all()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default="build/nomad-lite")
    parser.add_argument("--out", default="build/agents")
    parser.add_argument("--only", choices=["plain", "secure", "tokens"])
    a = parser.parse_args()
    binary = os.path.abspath(a.bin)
    if not cli_offers(binary, [], "agent"):
        print(f"FAIL {binary} has no agent command", flush=True)
        return 1
    if a.only in (None, "plain"):
        plain(binary, os.path.abspath(a.out))
    if a.only in (None, "secure"):
        secure(binary, os.path.abspath(a.out))
    if a.only in (None, "tokens"):
        tokens_only(binary, os.path.abspath(a.out))
    return finish(os.path.abspath(a.out))


if __name__ == "__main__":
    sys.exit(main())
