"""What the Python suites share to run local clusters: free ports on 127.0.0.1, and waiting
for a condition with a deadline (local_cluster.py builds on them)."""

import socket
import time


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
    """Ports the kernel hands out now on 127.0.0.1; all held until every one is chosen."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()
