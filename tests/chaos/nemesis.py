"""Faults on a running cluster, from a plan drawn from a seed.

A plan is a list of steps (offset in seconds from the start, nemesis, duration, a random
choice for whom it targets). Roles ("the leader", "a follower") are resolved when the step
runs; what was done, to whom and when is logged as events (plan.jsonl) with a model of the
network (which nodes are up and connected) after every change, so that the checker knows when
a majority was connected.
"""
import itertools
import os
import random
import signal
import time

ALL = ("isolate-leader", "split", "bridge", "one-way", "pause-leader", "kill", "loss",
       "disk-full", "clock-jump", "partition-then-pause", "delay")
LEADER_FAULTS = {"isolate-leader", "pause-leader", "kill-leader", "partition-then-pause"}


def make_plan(seed, seconds, nemeses, long_partition, pause_gap, quiet=(2.0, 4.0),
              durations=(2.0, 8.0)):
    """Steps until `seconds`; the first is the long partition healed pause_gap seconds
    before the leader is paused, when that nemesis is enabled."""
    rng = random.Random(seed)
    plan, t = [], 3.0
    pool = [k for k in nemeses if k != "partition-then-pause"]
    if "partition-then-pause" in nemeses:
        plan.append({"at": t, "kind": "partition-then-pause", "duration": long_partition,
                     "gap": pause_gap, "pause": 4.0, "pick": rng.random()})
        t += long_partition + pause_gap + 4.0 + rng.uniform(*quiet)
    bag = []
    while pool:
        if not bag:  # every nemesis once, in a random order, before any comes again
            bag = list(pool)
            rng.shuffle(bag)
        kind = bag.pop()
        dur = round(rng.uniform(*durations), 2)
        if t + dur > seconds - 1:
            break
        plan.append({"at": round(t, 2), "kind": kind, "duration": dur, "pick": rng.random(),
                     "pick2": rng.random()})
        t += dur + rng.uniform(*quiet)
    return plan


class Nemesis:
    def __init__(self, cluster, poller, log):
        self.c, self.net, self.poller = cluster, cluster.net, poller
        self.n = cluster.n
        self.log = log
        self.events = []
        self.paused, self.killed, self.crashed = set(), set(), set()
        self.crashes = []
        self.t0 = None

    # --- the model ----------------------------------------------------------------------
    def majority_connected(self):
        down = self.paused | self.killed | self.crashed
        up = [i for i in range(1, self.n + 1) if i not in down]
        need = self.n // 2 + 1
        for group in itertools.combinations(up, need):
            if all(self.net.connected(a, b) for a, b in itertools.combinations(group, 2)):
                return True
        return False

    def event(self, **kw):
        kw["t"] = time.monotonic()
        kw["majority"] = self.majority_connected()
        self.events.append(kw)
        if kw.get("event") == "heal" and kw.get("kind") != "restart-after-crash":
            self.check_crashes()
            self.restart_crashed()
        if kw.get("event") in ("fault", "heal"):
            rel = kw["t"] - self.t0 if self.t0 else 0.0
            what = {k: v for k, v in kw.items() if k not in ("t", "event", "kind", "majority")}
            self.log(f"[{rel:7.2f}s] {kw['event']:5} {kw.get('kind')} {what}")

    # --- helpers ------------------------------------------------------------------------
    def leader_and_term(self):
        """Asks every node now (the poller's view may be a moment old); the poller's last
        leader if none answers as leader."""
        leader, term = self.c.leader_and_term()
        if leader:
            return leader, term
        obs = [o for o in self.poller.observations[-4 * self.n:] if o["role"] == "leader"]
        if obs:
            o = max(obs, key=lambda o: o["term"])
            return o["node"], o["term"]
        return 1, 0

    def leader(self):
        return self.leader_and_term()[0]

    @staticmethod
    def pick(seq, r):
        seq = list(seq)
        return seq[min(int(r * len(seq)), len(seq) - 1)]

    def followers(self, leader):
        return [i for i in range(1, self.n + 1) if i != leader]

    def wait_until(self, t, stop):
        while time.monotonic() < t and not stop():
            self.check_crashes()
            time.sleep(0.05)

    def check_crashes(self):
        """A node that exited without being killed crashed: it counts as down until it is
        restarted at the next heal."""
        for i in range(1, self.n + 1):
            if i in self.killed or i in self.crashed or self.c.alive(i):
                continue
            code = self.c.procs[i].returncode
            self.crashed.add(i)
            self.crashes.append({"node": i, "code": code, "t": time.monotonic()})
            self.event(event="fault", kind="crash", nodes=[i], code=code)

    def restart_crashed(self):
        for i in sorted(self.crashed):
            self.c.start(i)
            self.event(event="heal", kind="restart-after-crash", nodes=[i])
        self.crashed.clear()

    # --- the plan -----------------------------------------------------------------------
    def run(self, plan, t0, stop):
        self.t0 = t0
        self.event(event="state")
        for step in plan:
            self.wait_until(t0 + step["at"], stop)
            if stop():
                break
            getattr(self, "do_" + step["kind"].replace("-", "_"))(step, stop)

    def heal_all(self):
        """Undoes every fault still in place (used at the end and on errors)."""
        self.net.heal()
        for i in sorted(self.paused):
            self.c.signal(i, signal.SIGCONT)
        self.paused.clear()
        for i in sorted(self.killed):
            self.c.start(i)
        self.killed.clear()
        if self.c.disk_node:
            self.c.free_disk()
        if self.c.clock_node:
            self.c.set_clock_offset(0)
        self.event(event="heal", kind="all")

    def _net_fault(self, kind, step, stop, apply, **info):
        apply()
        self.event(event="fault", kind=kind, **info)
        self.wait_until(time.monotonic() + step["duration"], stop)
        self.net.heal()
        self.event(event="heal", kind=kind)

    def do_isolate_leader(self, step, stop):
        leader, term = self.leader_and_term()
        others = self.followers(leader)
        self._net_fault("isolate-leader", step, stop,
                        lambda: self.net.partition([[leader], others]), nodes=[leader],
                        leader_fault=True, old_leader=leader, old_term=term)

    def do_split(self, step, stop):
        nodes = list(range(1, self.n + 1))
        random.Random(step["pick"]).shuffle(nodes)
        minority = nodes[:(self.n - 1) // 2]
        majority = nodes[len(minority):]
        self._net_fault("split", step, stop, lambda: self.net.partition([minority, majority]),
                        minority=minority, majority=majority)

    def do_bridge(self, step, stop):
        nodes = list(range(1, self.n + 1))
        random.Random(step["pick"]).shuffle(nodes)
        bridge = nodes[0]
        rest = nodes[1:]
        half = len(rest) // 2
        left, right = rest[:half], rest[half:]
        self._net_fault("bridge", step, stop, lambda: self.net.partition([left, right]),
                        bridge=bridge, left=left, right=right)

    def do_one_way(self, step, stop):
        # Half the time the leader can hear but not be heard; otherwise a random pair.
        leader, term = self.leader_and_term()
        if step["pick"] < 0.5:
            pairs = [(leader, j) for j in self.followers(leader)]
        else:
            nodes = list(range(1, self.n + 1))
            a = self.pick(nodes, step["pick2"])
            b = self.pick([x for x in nodes if x != a], step["pick"])
            pairs = [(a, b)]

        def apply():
            for src, dst in pairs:
                self.net.drop(src, dst)
        self._net_fault("one-way", step, stop, apply, dropped=pairs,
                        leader_fault=pairs[0][0] == leader and len(pairs) > 1,
                        old_leader=leader, old_term=term)

    def do_loss(self, step, stop):
        node = self.pick(range(1, self.n + 1), step["pick"])
        p = 0.1 + 0.3 * step["pick2"]
        self._net_fault("loss", step, stop, lambda: self.net.set_loss(node, p), node=node,
                        probability=round(p, 3))

    def do_delay(self, step, stop):
        """Packets into one node held 50-300 ms, with a tenth of that as jitter."""
        node = self.pick(range(1, self.n + 1), step["pick"])
        delay_ms = int(50 + 250 * step["pick2"])
        jitter_ms = delay_ms // 10
        self.net.set_delay(node, delay_ms, jitter_ms, seed=int(step["pick2"] * 2**31),
                           log_path=os.path.join(self.c.root, f"delayer-n{node}.log"))
        self.event(event="fault", kind="delay", node=node, delay_ms=delay_ms,
                   jitter_ms=jitter_ms)
        self.wait_until(time.monotonic() + step["duration"], stop)
        counts = self.net.heal()
        self.event(event="heal", kind="delay", node=node, packets=counts.get(node, {}))

    def do_pause_leader(self, step, stop, kind="pause-leader"):
        leader, term = self.leader_and_term()
        self.c.signal(leader, signal.SIGSTOP)
        self.paused.add(leader)
        self.event(event="fault", kind=kind, nodes=[leader], leader_fault=True,
                   old_leader=leader, old_term=term)
        self.wait_until(time.monotonic() + step.get("pause", step["duration"]), stop)
        self.c.signal(leader, signal.SIGCONT)
        self.paused.discard(leader)
        self.event(event="heal", kind=kind, nodes=[leader])

    def do_kill(self, step, stop):
        leader, term = self.leader_and_term()
        victim = leader if step["pick"] < 0.5 else self.pick(self.followers(leader),
                                                              step["pick2"])
        self.c.kill(victim)
        self.killed.add(victim)
        kind = "kill-leader" if victim == leader else "kill"
        self.event(event="fault", kind=kind, nodes=[victim], leader_fault=victim == leader,
                   old_leader=leader, old_term=term)
        self.wait_until(time.monotonic() + min(step["duration"], 4.0), stop)
        self.c.start(victim)
        self.killed.discard(victim)
        self.event(event="heal", kind=kind, nodes=[victim])

    def do_disk_full(self, step, stop):
        if not self.c.disk_node:
            return
        self.c.fill_disk()
        self.event(event="fault", kind="disk-full", nodes=[self.c.disk_node],
                   was_leader=self.leader() == self.c.disk_node)
        self.wait_until(time.monotonic() + step["duration"], stop)
        self.c.free_disk()
        self.event(event="heal", kind="disk-full", nodes=[self.c.disk_node])

    def do_clock_jump(self, step, stop):
        if not self.c.clock_node:
            return
        # A step of 1 to 10 minutes, forwards or backwards.
        offset = int(60 + 540 * step["pick"]) * (1 if step["pick2"] < 0.5 else -1)
        self.c.set_clock_offset(offset)
        self.event(event="fault", kind="clock-jump", nodes=[self.c.clock_node], offset=offset)
        self.wait_until(time.monotonic() + step["duration"], stop)
        self.c.set_clock_offset(0)
        self.event(event="heal", kind="clock-jump", nodes=[self.c.clock_node])

    def do_partition_then_pause(self, step, stop):
        """A follower cut off for a long time, healed `gap` seconds before the leader is
        paused: the two nodes left must elect a leader over a link that was just healed."""
        leader = self.leader()
        follower = self.pick(self.followers(leader), step["pick"])
        others = [i for i in range(1, self.n + 1) if i != follower]
        self.net.partition([[follower], others])
        self.event(event="fault", kind="long-partition", nodes=[follower])
        self.wait_until(time.monotonic() + step["duration"], stop)
        self.net.heal()
        self.event(event="heal", kind="long-partition", nodes=[follower])
        self.wait_until(time.monotonic() + step["gap"], stop)
        if not stop():
            self.do_pause_leader(step, stop, kind="pause-after-partition")
