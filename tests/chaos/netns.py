"""Network namespaces for a fault run: one per node, one for the clients, one holding the bridge.

Everything lives in namespaces named with a per-run prefix (nl<pid>-...). The host's own
interfaces, routes, iptables and sysctls are never touched: the bridge sits in a namespace of
its own, veth ends are created directly inside the namespaces, and iptables runs only inside
node namespaces. Faults are iptables DROP rules in the receiving node's INPUT chain
(`statistic` for random loss); the kernel has no sch_netem, so a delay is an NFQUEUE rule whose
packets a delayer process (delayer.py) holds and then accepts.
"""
import ctypes
import os
import re
import subprocess

from delayer import Delayer

SUBNET = "10.99.0"  # exists only inside the namespaces of a run
CLIENT_HOST = 200
CLONE_NEWNET = 0x40000000
PREFIX_RE = re.compile(r"^nl(\d+)-")


def run(*args, check=True):
    r = subprocess.run(list(args), capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def list_namespaces():
    r = run("ip", "netns", "list", check=False)
    return [line.split()[0] for line in r.stdout.splitlines() if line.strip()]


def kill_namespace_processes(ns):
    r = run("ip", "netns", "pids", ns, check=False)
    for pid in r.stdout.split():
        if not pid.isdigit() or int(pid) == os.getpid():
            continue  # this process itself sits in the client namespace
        try:
            os.kill(int(pid), 9)
        except (ProcessLookupError, ValueError):
            pass


def cleanup_leftovers(log=print):
    """Removes namespaces (and their processes) of earlier runs whose process is gone."""
    removed = 0
    for ns in list_namespaces():
        m = PREFIX_RE.match(ns)
        if not m or pid_alive(int(m.group(1))):
            continue
        kill_namespace_processes(ns)
        run("ip", "netns", "del", ns, check=False)
        removed += 1
    if removed:
        log(f"netns: removed {removed} namespaces left by an earlier run")
    return removed


class Network:
    """A bridge with n nodes (10.99.0.1..n) and a client namespace (10.99.0.200)."""

    def __init__(self, n, prefix=None):
        self.n = n
        self.prefix = prefix or f"nl{os.getpid()}"
        self.created = []
        # (src, dst) pairs whose packets dst drops; loss per node as a probability.
        self.blocked = set()
        self.loss = {}
        # node -> its running Delayer; delayer_program is set when the delay nemesis is on.
        self.delayers = {}
        self.delayer_program = None

    def ns(self, i):
        return f"{self.prefix}-n{i}"

    @property
    def client_ns(self):
        return f"{self.prefix}-cl"

    @property
    def bridge_ns(self):
        return f"{self.prefix}-br"

    @staticmethod
    def ip(i):
        return f"{SUBNET}.{i}"

    def _add_ns(self, name):
        run("ip", "netns", "add", name)
        self.created.append(name)
        run("ip", "-n", name, "link", "set", "lo", "up")

    def _attach(self, name, host):
        port = f"p{host}"
        run("ip", "-n", name, "link", "add", "eth0", "type", "veth", "peer", "name", port,
            "netns", self.bridge_ns)
        run("ip", "-n", self.bridge_ns, "link", "set", port, "master", "br0", "up")
        run("ip", "-n", name, "addr", "add", f"{SUBNET}.{host}/24", "dev", "eth0")
        run("ip", "-n", name, "link", "set", "eth0", "up")

    def create(self):
        self._add_ns(self.bridge_ns)
        run("ip", "-n", self.bridge_ns, "link", "add", "br0", "type", "bridge")
        run("ip", "-n", self.bridge_ns, "link", "set", "br0", "up")
        for i in range(1, self.n + 1):
            self._add_ns(self.ns(i))
            self._attach(self.ns(i), i)
        self._add_ns(self.client_ns)
        self._attach(self.client_ns, CLIENT_HOST)

    def enter_client_namespace(self):
        """Moves this process (its threads created from now on, its sockets, its children) into
        the client namespace, so that clients reach the nodes over the bridge."""
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f"/var/run/netns/{self.client_ns}", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns into the client namespace failed")
        finally:
            os.close(fd)

    def exec_prefix(self, i):
        return ["ip", "netns", "exec", self.ns(i)]

    def iptables(self, i, *args):
        run("ip", "netns", "exec", self.ns(i), "iptables", "-w", *args)

    # --- faults -------------------------------------------------------------------------
    def drop(self, src, dst):
        """Packets from node src to node dst are dropped (one way)."""
        if (src, dst) in self.blocked:
            return
        self.iptables(dst, "-A", "INPUT", "-s", self.ip(src), "-j", "DROP")
        self.blocked.add((src, dst))

    def cut(self, a, b):
        self.drop(a, b)
        self.drop(b, a)

    def partition(self, groups):
        """Cuts every link between nodes of different groups."""
        for gi, g in enumerate(groups):
            for h in groups[gi + 1:]:
                for a in g:
                    for b in h:
                        self.cut(a, b)

    def set_loss(self, i, probability):
        for chain, flag in (("INPUT", "-i"), ("OUTPUT", "-o")):
            self.iptables(i, "-A", chain, flag, "eth0", "-m", "statistic", "--mode", "random",
                          "--probability", f"{probability:.3f}", "-j", "DROP")
        self.loss[i] = probability

    def set_delay(self, i, delay_ms, jitter_ms, seed, log_path):
        """Packets into node i are held delay_ms +- jitter_ms. The delayer is bound to the
        queue before the rule sends packets there; --queue-bypass lets them through should it
        die."""
        if not self.delayer_program:
            raise RuntimeError("set_delay: no delayer program (build_delayer) for this network")
        self.delayers[i] = Delayer(self.delayer_program, self.exec_prefix(i), i, delay_ms,
                                   jitter_ms, seed, log_path)
        self.iptables(i, "-A", "INPUT", "-i", "eth0", "-j", "NFQUEUE", "--queue-num", str(i),
                      "--queue-bypass")

    def stop_delayers(self):
        """Stops every delayer (after its rule is gone); returns node -> packet counts."""
        counts = {}
        for i in sorted(self.delayers):
            counts[i] = self.delayers.pop(i).stop()
        return counts

    def heal(self):
        """Removes every fault rule, then stops the delayers; returns their packet counts."""
        try:
            for i in range(1, self.n + 1):
                self.iptables(i, "-F", "INPUT")
                self.iptables(i, "-F", "OUTPUT")
        finally:
            counts = self.stop_delayers()
        self.blocked.clear()
        self.loss.clear()
        return counts

    def connected(self, a, b):
        return (a, b) not in self.blocked and (b, a) not in self.blocked

    def teardown(self):
        self.stop_delayers()  # the namespaces and their rules go next
        for name in reversed(self.created):
            kill_namespace_processes(name)
            run("ip", "netns", "del", name, check=False)
        self.created.clear()
