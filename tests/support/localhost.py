"""What the Python suites share to run local clusters: free ports on 127.0.0.1, and waiting
for a condition with a deadline (local_cluster.py builds on them)."""

import fcntl
import os
import random
import socket
import time

# Below the kernel's ephemeral range (32768 and up): a port the kernel hands out for port 0 may
# meanwhile become the local end of an outgoing connection, or be handed to another suite
# running at the same time, before the server binds it (as tests/cluster/cluster_harness.h).
PORT_RANGE = (20000, 32000)
# Suites run side by side (scripts/run-tests): each records the ports it hands out here, under
# a lock, and no suite hands out a port another did in the last RECENT_S seconds.
LEDGER = os.path.join(os.environ.get("TMPDIR", "/tmp"), "nomad-lite-test-ports")
RECENT_S = 1800


def wait_for(condition, timeout, interval=0.05):
    """Polls condition() until it returns a true value or timeout seconds pass; returns the last
    value (a condition, never a fixed sleep, is what a suite waits for)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def free_ports(count):
    """count ports on 127.0.0.1 that are free now and that no suite on this machine was handed
    in the last RECENT_S seconds."""
    with open(LEDGER, "a+") as ledger:
        fcntl.flock(ledger, fcntl.LOCK_EX)  # released when the file closes
        ledger.seek(0)
        now = time.time()
        recent = {}
        for line in ledger.read().split():
            port, _, when = line.partition("@")
            try:
                if now - float(when) < RECENT_S:
                    recent[int(port)] = float(when)
            except ValueError:
                continue  # a line cut short: ignore it
        chosen = []
        while len(chosen) < count:
            port = random.randint(*PORT_RANGE)
            if port in recent or port in chosen or not bindable(port):
                continue
            chosen.append(port)
        recent.update((p, now) for p in chosen)
        ledger.seek(0)
        ledger.truncate()
        ledger.write("".join(f"{p}@{w:.0f}\n" for p, w in recent.items()))
        return chosen


def bindable(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False
