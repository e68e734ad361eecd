"""A file every job of a suite appends its key to when it runs: how often a job really ran,
whatever the cluster says, to check that none ran twice."""

import os


class RunsFile:
    def __init__(self, path):
        self.path = path
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.chmod(os.path.dirname(path), 0o777)  # jobs of a root process run as nobody
        open(path, "w").close()
        os.chmod(path, 0o666)

    def command(self, key, then=""):
        """A shell command that notes a run of `key`, then runs `then`."""
        return f"echo {key} >> {self.path}" + (f"; {then}" if then else "")

    def counts(self):
        """{key: runs so far}."""
        counts = {}
        with open(self.path) as f:
            for line in f:
                counts[line.strip()] = counts.get(line.strip(), 0) + 1
        return counts
