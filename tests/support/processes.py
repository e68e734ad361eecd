"""Processes a suite starts (nomad-lite servers and agents), each writing to a log file of its
own, and their stopping: a signal, a bounded wait, then SIGKILL."""

import signal
import subprocess


def spawn(args, log_path, cwd=None, **popen):
    """Starts args with stdout and stderr appended to log_path and no stdin."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=cwd, **popen)


def stop(proc, sig=signal.SIGTERM, grace=5):
    """Sends sig to a running proc and reaps it; SIGKILL when it outlives grace seconds."""
    stop_all([proc], sig, grace)


def stop_all(procs, sig=signal.SIGTERM, grace=5):
    """Signals every running proc at once, then reaps each (SIGKILL after grace seconds): a
    cluster stops in one grace period, not one per process."""
    procs = [p for p in procs if p is not None]
    for p in procs:
        if p.poll() is None:
            try:
                p.send_signal(sig)
            except ProcessLookupError:
                pass
    for p in procs:
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
