"""Real nomad-lite servers, one per network namespace, and the per-node faults on them
(signals, a full disk on a small tmpfs, clock jumps through clock_shift.c preloaded)."""
import errno
import os
import signal
import subprocess
import sys
import time

from netns import Network

sys.path.insert(1, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "support"))
import processes  # noqa: E402
from rest import http_json  # noqa: E402,F401  (run.py and workload.py take it from here)

GRPC_PORT = 50051
HTTP_PORT = 8080
TMPFS_BYTES = 256 << 20  # room for the WAL's 64 MiB segments and job output
CLOCK_SHIFT_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "clock_shift.c")


def build_clock_shift(out_dir):
    """Compiles clock_shift.c into out_dir (once per change of the source); returns its path."""
    lib = os.path.join(out_dir, "clock_shift.so")
    if (not os.path.exists(lib)
            or os.path.getmtime(lib) < os.path.getmtime(CLOCK_SHIFT_SOURCE)):
        r = subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC",
                            "-o", lib, CLOCK_SHIFT_SOURCE], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"cannot build {CLOCK_SHIFT_SOURCE}: {r.stderr.strip()}")
    return lib


class Cluster:
    def __init__(self, binary, root, net: Network, server_args=(), disk_node=None,
                 clock_node=None, fake_monotonic=False, log=print):
        self.bin, self.root, self.net = binary, root, net
        self.n = net.n
        self.server_args = list(server_args)
        self.disk_node, self.clock_node = disk_node, clock_node
        self.fake_monotonic = fake_monotonic
        self.log = log
        self.procs = {}
        self.incarnation = {i: 0 for i in range(1, self.n + 1)}
        self.mounts = []
        self.filler = None
        self.clock_file = os.path.join(root, "clock-offset")
        self.clock_lib = None

    def data_dir(self, i):
        return os.path.join(self.root, f"node-{i}")

    def http(self, i):
        return f"http://{self.net.ip(i)}:{HTTP_PORT}"

    def grpc_addr(self, i):
        return f"{self.net.ip(i)}:{GRPC_PORT}"

    def prepare(self):
        for i in range(1, self.n + 1):
            os.makedirs(self.data_dir(i), exist_ok=True)
        if self.disk_node:
            d = self.data_dir(self.disk_node)
            subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES},mode=0755",
                            "nomad-chaos", d], check=True)
            self.mounts.append(d)
        if self.clock_node:
            self.clock_lib = build_clock_shift(os.path.dirname(self.root))
            self.set_clock_offset(0)

    def start(self, i):
        peers = ",".join(f"{j}:{self.grpc_addr(j)}" for j in range(1, self.n + 1) if j != i)
        env = []
        if i == self.clock_node:
            # Jobs never inherit this: the executor gives them a clean environment.
            env = ["env", f"LD_PRELOAD={self.clock_lib}",
                   f"NOMAD_CHAOS_CLOCK_FILE={self.clock_file}",
                   f"NOMAD_CHAOS_CLOCK_MONOTONIC={1 if self.fake_monotonic else 0}"]
        cmd = self.net.exec_prefix(i) + env + [
            self.bin, "server", "--node-id", str(i), "--bind", self.net.ip(i), "--insecure",
            "--port", str(GRPC_PORT), "--dashboard-port", str(HTTP_PORT), "--peers", peers,
            "--data-dir", self.data_dir(i)] + self.server_args
        self.incarnation[i] += 1
        self.procs[i] = processes.spawn(cmd, os.path.join(self.root, f"node-{i}.log"),
                                        start_new_session=True)

    def start_all(self):
        for i in range(1, self.n + 1):
            self.start(i)

    def alive(self, i):
        p = self.procs.get(i)
        return p is not None and p.poll() is None

    def pid(self, i):
        return self.procs[i].pid if self.alive(i) else None

    def signal(self, i, sig):
        if self.alive(i):
            os.kill(self.procs[i].pid, sig)

    def kill(self, i):
        if self.alive(i):
            self.procs[i].send_signal(signal.SIGKILL)
            self.procs[i].wait()

    def status(self, i, timeout=0.5):
        code, body = http_json(self.http(i) + "/api/cluster", timeout=timeout)
        return body if code == 200 else None

    def wait_leader(self, deadline_s=30):
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            for i in range(1, self.n + 1):
                try:
                    s = self.status(i)
                except OSError:
                    continue
                if s and s.get("role") == "leader":
                    return i, s.get("term")
            time.sleep(0.1)
        return None, None

    def leader(self):
        """The node that says it leads, with the highest term; None if none answers so."""
        return self.leader_and_term()[0]

    def leader_and_term(self):
        """(node, term) of the node that says it leads with the highest term, or (None, 0)."""
        best = (None, -1)
        for i in range(1, self.n + 1):
            if not self.alive(i):
                continue
            try:
                s = self.status(i, timeout=0.3)
            except OSError:
                continue
            if s and s.get("role") == "leader" and s.get("term", 0) > best[1]:
                best = (i, s["term"])
        return best if best[0] else (None, 0)

    # --- disk ---------------------------------------------------------------------------
    def fill_disk(self):
        """Fills the tmpfs of disk_node until ENOSPC."""
        path = os.path.join(self.data_dir(self.disk_node), "chaos-filler")
        chunk = b"\0" * (1 << 20)
        with open(path, "wb") as f:
            try:
                while True:
                    f.write(chunk)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
        self.filler = path

    def free_disk(self):
        if self.filler and os.path.exists(self.filler):
            os.unlink(self.filler)
        self.filler = None

    # --- clock --------------------------------------------------------------------------
    def set_clock_offset(self, seconds):
        tmp = self.clock_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{seconds:+d}\n")
        os.replace(tmp, self.clock_file)

    # --- resources ----------------------------------------------------------------------
    def sample(self, i):
        pid = self.pid(i)
        if not pid:
            return None
        try:
            fields = {"VmRSS:": "rss", "RssAnon:": "rss_anon", "RssFile:": "rss_file",
                      "RssShmem:": "rss_shmem", "Threads:": "threads"}
            out = {}
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    parts = line.split()
                    if parts and parts[0] in fields:
                        scale = 1 if parts[0] == "Threads:" else 1024
                        out[fields[parts[0]]] = int(parts[1]) * scale
            out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
        except (FileNotFoundError, ProcessLookupError):
            return None
        return out

    def stop(self):
        for p in self.procs.values():
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGCONT)  # a paused node must run to stop
                except ProcessLookupError:
                    pass
        processes.stop_all(self.procs.values(), grace=10)

    def unmount(self):
        self.free_disk()
        for d in self.mounts:
            r = subprocess.run(["umount", d], capture_output=True)
            if r.returncode != 0:
                subprocess.run(["umount", "-l", d], capture_output=True)
        self.mounts.clear()


def unmount_leftovers(base, log=print):
    """Unmounts tmpfs data dirs below base left by an earlier run whose process is gone (run
    directories end in -nl<pid>)."""
    from netns import pid_alive
    base = os.path.abspath(base)
    with open("/proc/self/mounts") as f:
        mounts = [line.split()[1] for line in f if line.split()[0] == "nomad-chaos"]
    n = 0
    for m in mounts:
        if not m.startswith(base + "/"):
            continue
        pid = os.path.basename(os.path.dirname(m)).rsplit("-nl", 1)[-1]
        if pid.isdigit() and pid_alive(int(pid)):
            continue
        subprocess.run(["umount", "-l", m], capture_output=True)
        n += 1
    if n:
        log(f"cluster: unmounted {n} tmpfs data dirs left by an earlier run")
