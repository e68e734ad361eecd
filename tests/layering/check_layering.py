#!/usr/bin/env python3
"""Proves that the build refuses what cmake/layering.cmake forbids.

1. For each library, a scratch file that includes one header of a folder the library may not
   include is compiled with that library's own compile command (from compile_commands.json, so
   with exactly its include directories): it must fail to find the header. The same file
   including one of its own headers must compile (so the failure is the rule, not a broken
   command).
2. The include check run before nomad_raft compiles (cmake/check_includes.cmake) must refuse a
   scratch copy of src/raft with an I/O header added, and accept src/raft as it is.
"""

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

# library: (headers it must not reach, a light header of its own that it may include)
RULES = {
    "nomad_raft": (["common/status.h", "metrics/registry.h", "storage/wal.h", "proto/nomad_lite.pb.h"], "raft/types.h"),
    "nomad_metrics": (["raft/types.h", "storage/wal.h", "jobs/job_store.h", "node/node.h",
                       "proto/nomad_lite.pb.h"], "metrics/metric.h"),
    "nomad_jobs": (["api/service.h", "http/http_server.h", "node/node.h",
                    "server/cluster_port_adapter.h", "transport/security.h",
                    "proto/nomad_lite.grpc.pb.h"], "jobs/job_store.h"),
    "nomad_storage": (["api/service.h", "node/node.h", "jobs/job_store.h"], "storage/crc32c.h"),
    "nomad_transport": (["api/service.h", "http/http_server.h", "node/node.h", "jobs/job_store.h"],
                        "transport/grpc_logging.h"),
    "nomad_worker": (["node/node.h", "transport/security.h", "api/service.h"], "worker/spawn.h"),
    "nomad_api": (["node/node.h", "worker/worker.h", "transport/security.h", "http/http_server.h",
                   "proto/nomad_lite.grpc.pb.h"], "api/auth.h"),
    "nomad_http": (["node/node.h", "worker/worker.h", "server/cluster_port_adapter.h"],
                   "http/limits.h"),
    "nomad_node": (["api/service.h", "http/http_server.h", "server/cluster_port_adapter.h",
                    "cli/cli.h", "transport/security.h", "worker/worker.h",
                    "proto/nomad_lite.grpc.pb.h"], "node/callback_runner.h"),
}

# The include checks run before a library compiles (cmake/check_includes.cmake): the variable of
# cmake/layering.cmake with the forbidden pattern, the files it guards (in a scratch copy), and
# includes that must be refused when added to the first of them.
CHECKS = [
    ("NOMAD_RAFT_FORBIDDEN", "src/raft", ["*"],
     ["<fstream>", "<thread>", "<sys/stat.h>", "<cstdio>", "<unistd.h>", "<chrono>"]),
    ("NOMAD_API_FORBIDDEN", "src/api", ["service.cc", "service.h", "cluster_port.h"],
     ["<grpcpp/grpcpp.h>", '"node/node.h"', '"worker/executor.h"', '"transport/security.h"']),
]


def compile_command(entries, library):
    """The compile command of one of the library's sources, as a list, and its directory."""
    for entry in entries:
        args = entry.get("arguments") or shlex.split(entry["command"])
        output = args[args.index("-o") + 1] if "-o" in args else ""
        # Not the precompiled header's own compile (clang's has -emit-pch, which -fsyntax-only
        # would turn into a header written to stdout).
        if output.startswith(f"CMakeFiles/{library}.dir/") and not output.endswith((".pch", ".gch")):
            return args, entry["directory"], entry["file"], output
    raise SystemExit(f"no compile command of {library} in compile_commands.json: build it first")


def try_compile(args, directory, source, output, header, scratch):
    path = os.path.join(scratch, "probe.cc")
    with open(path, "w") as f:
        f.write(f'#include "{header}"\n')
    cmd = []
    skip = False
    for i, a in enumerate(args):
        if skip:
            skip = False
            continue
        if i == 0 and os.path.basename(a) == "ccache":
            continue
        if a in ("-o", "-c", "-MF", "-MT", "-MQ"):
            skip = True
            continue
        if a in ("-MD", "-MMD") or a == source or a == output:
            continue
        cmd.append(a)
    cmd += ["-fsyntax-only", path]
    return subprocess.run(cmd, cwd=directory, capture_output=True, text=True, errors="replace")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--source-dir", required=True)
    opts = parser.parse_args()
    with open(os.path.join(opts.build_dir, "compile_commands.json")) as f:
        entries = json.load(f)

    failures = []
    scratch = tempfile.mkdtemp(prefix="nomad-layering-")
    try:
        for library, (forbidden, allowed) in RULES.items():
            args, directory, source, output = compile_command(entries, library)
            ok = try_compile(args, directory, source, output, allowed, scratch)
            if ok.returncode != 0:
                failures.append(f"{library}: its own header {allowed} does not compile:\n{ok.stderr[-2000:]}")
                continue
            for header in forbidden:
                r = try_compile(args, directory, source, output, header, scratch)
                if r.returncode == 0:
                    failures.append(f"{library} can include {header}")
                elif not re.search(r"No such file|file not found", r.stderr):
                    failures.append(f"{library} including {header} failed for another reason:\n{r.stderr[-2000:]}")
                else:
                    print(f"ok: {library} cannot include {header}")

        # The include checks: the real files pass; a scratch copy with a forbidden include fails,
        # naming the file.
        check = os.path.join(opts.source_dir, "cmake", "check_includes.cmake")
        layering = open(os.path.join(opts.source_dir, "cmake", "layering.cmake")).read()
        for variable, folder, names, bad_includes in CHECKS:
            m = re.search(r'set\(' + variable + r'\s*\n?\s*"(.*)"\)', layering)
            forbidden = m.group(1).replace("\\\\", "\\").replace('\\"', '"')
            real_dir = os.path.join(opts.source_dir, folder)
            if names == ["*"]:
                names = sorted(os.listdir(real_dir))

            def run_check(files):
                return subprocess.run(["cmake", "-DFILES=" + ";".join(files),
                                       "-DFORBIDDEN=" + forbidden, "-DWHAT=" + variable, "-P",
                                       check], capture_output=True, text=True)

            r = run_check([os.path.join(real_dir, n) for n in names])
            if r.returncode != 0:
                failures.append(f"{folder} fails its own check {variable}:\n{r.stderr}")
            copy = os.path.join(scratch, os.path.basename(folder))
            os.makedirs(copy, exist_ok=True)
            for n in names:
                shutil.copy(os.path.join(real_dir, n), copy)
            first = os.path.join(copy, names[0])
            original = open(first).read()
            for include in bad_includes:
                with open(first, "w") as f:
                    f.write(f"#include {include}\n" + original)
                r = run_check([os.path.join(copy, n) for n in names])
                if r.returncode == 0:
                    failures.append(f"{variable} lets {include} into {folder}/{names[0]}")
                elif names[0] not in r.stderr:
                    failures.append(f"{variable} refused {include} without naming the file:\n{r.stderr}")
                else:
                    print(f"ok: {folder}/{names[0]} cannot include {include}")
            with open(first, "w") as f:
                f.write(original)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    for failure in failures:
        print("FAILED: " + failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
