"""The delay nemesis's packet holder: tests/chaos/delayer.c, compiled on first use, run inside a
node's namespace behind an iptables NFQUEUE rule (the kernel has no sch_netem)."""
import os
import select
import signal
import subprocess
import time

DELAYER_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "delayer.c")
READY_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 5.0


def build_delayer(out_dir):
    """Compiles delayer.c into out_dir (once per change of the source); returns its path."""
    program = os.path.join(out_dir, "delayer")
    if (os.path.exists(program)
            and os.path.getmtime(program) >= os.path.getmtime(DELAYER_SOURCE)):
        return program
    try:
        r = subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", program,
                            DELAYER_SOURCE, "-lnetfilter_queue"], capture_output=True,
                           text=True)
    except FileNotFoundError:
        raise RuntimeError("the delay nemesis needs a C compiler (cc) to build "
                           f"{DELAYER_SOURCE}: run scripts/install-deps")
    if r.returncode != 0:
        if "libnetfilter_queue" in r.stderr or "-lnetfilter_queue" in r.stderr:
            raise RuntimeError("the delay nemesis needs libnetfilter_queue to build "
                               f"{DELAYER_SOURCE}: install libnetfilter-queue-dev "
                               "(scripts/install-deps), or leave delay out of --nemeses")
        raise RuntimeError(f"cannot build {DELAYER_SOURCE}: {r.stderr.strip()}")
    return program


class Delayer:
    """One delayer process holding the packets of NFQUEUE `queue` in one namespace."""

    def __init__(self, program, exec_prefix, queue, delay_ms, jitter_ms, seed, log_path):
        self.queue = queue
        cmd = list(exec_prefix) + [program, "--queue", str(queue), "--delay-ms", str(delay_ms),
                                   "--jitter-ms", str(jitter_ms), "--seed", str(seed)]
        with open(log_path, "a") as log:
            # A session of its own: Ctrl-C reaches the run, which stops the delayer itself.
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True,
                                         start_new_session=True)
        try:
            self._wait_ready(log_path)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, log_path):
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.1)
            if ready:
                line = self.proc.stdout.readline()
                if line.strip() == "ready":
                    return
                break  # end of output: the delayer exited
            if self.proc.poll() is not None:
                break
        raise RuntimeError(f"the delayer for queue {self.queue} did not start; see {log_path}")

    def stop(self):
        """Stops the delayer (it lets what it holds through); returns its packet counts."""
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        counts = {}
        try:
            out = self.proc.stdout.read()
        except (OSError, ValueError):
            out = ""
        self.proc.stdout.close()
        words = out.split()  # its last line: "delayed N dropped M"
        for key in ("delayed", "dropped"):
            at = words.index(key) + 1 if key in words else len(words)
            if at < len(words) and words[at].isdigit():
                counts[key] = int(words[at])
        return counts
