"""One line per check: PASS or FAIL, the finding of issue 17 it covers, its name and what was
seen; a summary at the end."""

import os
import time


class Reporter:
    def __init__(self):
        self.results = []  # (ok, finding, name)
        self.started = time.monotonic()

    def check(self, finding, name, ok, seen):
        """finding: "F1".."F9" for the issue's findings, "D2".."D6" for its Deliver items,
        "held" for what the issue found holding (kept as a guard)."""
        ok = bool(ok)
        self.results.append((ok, finding, name))
        print(f"{'PASS' if ok else 'FAIL'} [{finding}] {name}: {seen}", flush=True)
        if os.environ.get("HOSTILE_TIMES"):
            print(f"   at {time.monotonic() - self.started:.2f} s", flush=True)
        return ok

    def skip(self, finding, name, why):
        print(f"SKIP [{finding}] {name}: {why}", flush=True)

    def summary(self):
        failed = [(f, n) for ok, f, n in self.results if not ok]
        passed = len(self.results) - len(failed)
        elapsed = time.monotonic() - self.started
        print(f"\nhostile: {passed} passed, {len(failed)} failed of {len(self.results)} checks "
              f"in {elapsed:.1f} s")
        if failed:
            by_finding = {}
            for finding, name in failed:
                by_finding.setdefault(finding, []).append(name)
            for finding in sorted(by_finding):
                print(f"  {finding}: {', '.join(by_finding[finding])}")
        return not failed


def short(text, limit=120):
    """A message as the report quotes it: at most `limit` characters and its length."""
    text = text if isinstance(text, str) else text.decode("utf-8", "replace")
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text)} chars)"
