"""PASS/FAIL lines of the real-process suites and the failures they add up to: one line per
check, its detail only when it fails, and an exit code of 1 when any failed."""

import time

failures = []
_started = time.monotonic()


def check(name, ok, detail=""):
    """Prints PASS or FAIL and the name (with the detail when it fails); returns ok, so that a
    check can guard what depends on it."""
    print(f"{'PASS' if ok else 'FAIL'} {name}" + (f": {detail}" if detail and not ok else ""),
          flush=True)
    if not ok:
        failures.append(name)
    return ok


def skip(name, why):
    """A check this build cannot make (a flag it lacks), said rather than passed."""
    print(f"SKIP {name}: {why}", flush=True)


def finish(where=""):
    """Prints the summary line (the failed checks by name, the time since the suite began and
    where its logs are); returns the exit code."""
    took = time.monotonic() - _started
    print(f"{'FAILED' if failures else 'passed'} in {took:.0f} s"
          + (f"; logs in {where}" if where else "")
          + (f": {len(failures)} failed: {', '.join(failures)}" if failures else ""), flush=True)
    return 1 if failures else 0
