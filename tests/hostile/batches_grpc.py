"""Hostile gRPC requests: undecodable bytes to every method, oversized fields, strict inputs,
long ids. Each batch records what it expects per issue 17's Deliver list."""

import re
import time

import grpc

from harness import MIB
from report import short

OK = grpc.StatusCode.OK
INVALID = grpc.StatusCode.INVALID_ARGUMENT
EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED
NOT_FOUND = grpc.StatusCode.NOT_FOUND
# A message that quotes bad input may quote a short prefix of it, no more (Deliver 3).
SHORT_MESSAGE = 512
# 64 MiB crosses loopback TLS in well under a second; a refusal should come sooner still.
LARGE_TIMEOUT = 5

SCHED = "/nomad_lite.SchedulerService/"
INTERNAL = "/nomad_lite.InternalService/"
RAFT = "/nomad_lite.RaftService/Stream"


def names(details, field):
    """Whether an error message names `field` (page_token may be written "page token")."""
    pattern = field.replace("_", "[_ ]")
    return re.search(pattern, details, re.IGNORECASE) is not None


def garbage(rng, size=64):
    """Random bytes no protobuf parser accepts: behind a field 1 that promises 16 MiB (so
    the message is truncated whatever the random rest holds)."""
    return b"\x0a\xff\xff\xff\x07" + bytes(rng.getrandbits(8) for _ in range(size - 5))


def bad_utf8(rng, field=1):
    """A well-framed message whose string `field` (1: command, job_id; 4: ListJobs' query) is
    not UTF-8, which proto3 refuses to parse, and which protobuf's parser reports in a log
    line of its own."""
    junk = bytes([0xff, 0xfe]) + bytes(rng.getrandbits(7) | 0x80 for _ in range(14))
    return bytes([field << 3 | 2, len(junk)]) + junk


def truncated(pb):
    """A SubmitJobRequest cut inside its command: the length prefix promises more bytes."""
    whole = pb.SubmitJobRequest(command="echo " + "x" * 200).SerializeToString()
    return whole[: len(whole) // 2]


def unparsable_inputs(cluster, pb, rng, report, known):
    """F8 (undecodable requests get INVALID_ARGUMENT with a message) on every method, public
    and internal; F7 (an outsider cannot fill the log) with 200 such requests."""
    node = cluster.nodes[1]
    unary = ["SubmitJob", "GetJobStatus", "ListJobs", "GetClusterStatus", "CancelJob", "WaitJob"]
    for method in unary:
        for label, payload in (("random", garbage(rng)), ("truncated", truncated(pb)),
                               ("bad-utf8", bad_utf8(rng, 4 if method == "ListJobs" else 1))):
            if label == "bad-utf8" and method == "GetClusterStatus":
                continue  # no string field
            code, details, _ = cluster.call(node, SCHED + method, payload)
            report.check("F8", f"grpc.{method}.{label}-bytes", code == INVALID and details,
                         f"{code.name} {short(details)}")
    for label, payload in (("random", garbage(rng)), ("truncated", truncated(pb)),
                           ("bad-utf8", bad_utf8(rng))):
        code, details, _ = cluster.stream_call(node, SCHED + "StreamJobLogs", payload)
        report.check("F8", f"grpc.StreamJobLogs.{label}-bytes", code == INVALID and details,
                     f"{code.name} {short(details)}")
    # Internal methods with a client's certificate (and an operator token): refused, as the
    # README promises (this held when the issue was filed; it must keep holding).
    leader = cluster.leader()
    empty_report = pb.WorkerReport(node_id=2).SerializeToString()
    for method, call in (
            ("Report", lambda: cluster.call(leader, INTERNAL + "Report", empty_report)),
            ("StreamLogs", lambda: cluster.stream_call(leader, INTERNAL + "StreamLogs",
                                                       pb.JobLogsRequest(job_id="x"))),
            ("ReportStream", lambda: cluster.stream_call(leader, INTERNAL + "ReportStream",
                                                         [empty_report], client_streaming=True,
                                                         timeout=5)),
            ("Raft.Stream", lambda: cluster.stream_call(
                leader, RAFT, [pb.RaftBatch(**{"from": 2}).SerializeToString()],
                client_streaming=True, server_streaming=False, timeout=5))):
        code, details, _ = call()
        report.check("held", f"grpc.{method}.client-certificate",
                     code == grpc.StatusCode.PERMISSION_DENIED, f"{code.name} {short(details)}")
    # Internal methods with a node's own certificate: past the peer gate, into the parser.
    code, details, _ = cluster.call(leader, INTERNAL + "Report", garbage(rng), role=None,
                                    identity="node-2")
    report.check("F8", "grpc.Internal.Report.random-bytes", code == INVALID and details,
                 f"{code.name} {short(details)}")
    code, details, _ = cluster.stream_call(leader, INTERNAL + "StreamLogs", garbage(rng),
                                           role=None, identity="node-2")
    report.check("F8", "grpc.Internal.StreamLogs.random-bytes", code == INVALID and details,
                 f"{code.name} {short(details)}")
    code, details, _ = cluster.stream_call(leader, INTERNAL + "ReportStream", [garbage(rng)],
                                           role=None, identity="node-2", client_streaming=True,
                                           timeout=5)
    report.check("F8", "grpc.Internal.ReportStream.random-bytes", code == INVALID and details,
                 f"{code.name} {short(details)}")
    code, details, _ = cluster.stream_call(leader, RAFT, [garbage(rng)], role=None,
                                           identity="node-2", client_streaming=True,
                                           server_streaming=False, timeout=5)
    report.check("F8", "grpc.Raft.Stream.random-bytes", code == INVALID and details,
                 f"{code.name} {short(details)}")

    # 200 unparsable requests may add only a few lines to the node's log (rate limited); half
    # of them are of the kind protobuf's parser logs itself.
    before = len(node.log_lines())
    for i in range(200):
        payload = bad_utf8(rng) if i % 2 else garbage(rng, 32)
        cluster.call(node, SCHED + "GetJobStatus", payload, timeout=2, fresh=False)
    added = len(node.log_lines()) - before
    report.check("F7", "grpc.200-unparsable.log-lines", added <= 20,
                 f"{added} log lines added (at most 20)")


def oversized(cluster, pb, report, known):
    """F2: messages far beyond what the API needs are refused with RESOURCE_EXHAUSTED, before
    the token is checked and without the node's memory following the message's size."""
    big = "x" * (64 * MIB)
    node = cluster.nodes[2]
    rss_before = node.proc.rss_mib()
    started = time.monotonic()
    code, details, _ = cluster.call(node, SCHED + "SubmitJob", pb.SubmitJobRequest(command=big),
                                    role=None, timeout=LARGE_TIMEOUT)
    took = time.monotonic() - started
    grown = node.proc.rss_mib() - rss_before
    # Refused as too large, or from its metadata before its message is read (the RSS says which).
    report.check("F2", "grpc.SubmitJob.64MiB-command.no-token",
                 code in (EXHAUSTED, grpc.StatusCode.UNAUTHENTICATED),
                 f"{code.name} in {took:.2f} s {short(details, 80)}")
    report.check("F2", "grpc.SubmitJob.64MiB-command.rss", grown < 32,
                 f"node {node.id} RSS {rss_before:.0f} -> {rss_before + grown:.0f} MiB "
                 f"(+{grown:.0f}, under 32 allowed)")
    for n in cluster.nodes:
        code, details, _ = cluster.call(n, SCHED + "GetJobStatus",
                                        pb.GetJobStatusRequest(job_id=big), timeout=LARGE_TIMEOUT)
        report.check("F2", f"grpc.GetJobStatus.64MiB-job_id.node{n.id}", code == EXHAUSTED,
                     f"{code.name} {short(details, 80)}")
    leader = cluster.leader()
    code, details, _ = cluster.stream_call(leader, INTERNAL + "StreamLogs",
                                           pb.JobLogsRequest(job_id=big), role=None,
                                           identity="node-2", timeout=LARGE_TIMEOUT)
    report.check("F2", "grpc.Internal.StreamLogs.64MiB-job_id", code == EXHAUSTED,
                 f"{code.name} {short(details, 80)}")
    forged = pb.WorkerReport(node_id=2, slots=1)
    forged.finished.add(job_id="none", attempt=1, node_id=2, stdout_tail=big.encode())
    code, details, _ = cluster.call(leader, INTERNAL + "Report", forged, role=None,
                                    identity="node-2", timeout=LARGE_TIMEOUT)
    report.check("F2", "grpc.Internal.Report.64MiB-stdout_tail", code == EXHAUSTED,
                 f"{code.name} {short(details, 80)}")
    # Within what gRPC carries but over the API's own limits: refused naming the field.
    leader = cluster.leader()
    code, details, _ = cluster.call(leader, SCHED + "SubmitJob",
                                    pb.SubmitJobRequest(command="x" * (100 * 1024)))
    report.check("D3", "grpc.SubmitJob.100KiB-command", code == INVALID and names(details,
                                                                                 "command"),
                 f"{code.name} {short(details)}")
    request = pb.SubmitJobRequest(command="true")
    request.env["BIG"] = "v" * MIB
    code, details, answer = cluster.call(leader, SCHED + "SubmitJob", request,
                                         response=pb.SubmitJobResponse)
    if answer:
        known[answer.job.id] = answer.job.command
    # execve refuses any string over 128 KiB (E2BIG): such a job could never start.
    report.check("D3", "grpc.SubmitJob.1MiB-env-value",
                 (code == INVALID and names(details, "env")) or code == EXHAUSTED,
                 f"{code.name} {short(details)} (a job with it could never start)")


def strict_inputs(cluster, pb, report, known):
    """F8 (strict inputs) and F6 (error messages that quote at most a short prefix)."""
    leader = cluster.leader()
    follower = next(n for n in cluster.nodes if n is not leader)
    list_jobs = SCHED + "ListJobs"
    code, details, _ = cluster.call(follower, list_jobs, pb.ListJobsRequest(status=99))
    report.check("F8", "grpc.ListJobs.status=99", code == INVALID and names(details, "status"),
                 f"{code.name} {short(details)}")
    for token in ("-1", "abc", "18446744073709551616"):
        code, details, _ = cluster.call(follower, list_jobs, pb.ListJobsRequest(page_token=token))
        report.check("F8", f"grpc.ListJobs.page_token={token}",
                     code == INVALID and names(details, "page_token"),
                     f"{code.name} {short(details)}")
    code, details, _ = cluster.call(follower, list_jobs,
                                    pb.ListJobsRequest(page_token="7" * 10240))
    report.check("F6", "grpc.ListJobs.10KiB-page_token",
                 code == INVALID and 0 < len(details) <= SHORT_MESSAGE,
                 f"{code.name}, message {len(details)} bytes {short(details, 60)}")

    submit = SCHED + "SubmitJob"
    # Wrong-typed protobuf: command (field 1, a string) sent as a varint. The parser keeps it
    # as an unknown field, so the request has no command.
    code, details, _ = cluster.call(leader, submit, b"\x08\x2a")
    report.check("D5", "grpc.SubmitJob.command-as-varint",
                 code == INVALID and names(details, "command"), f"{code.name} {short(details)}")

    def submit_job(request):
        code, details, answer = cluster.call(leader, submit, request,
                                             response=pb.SubmitJobResponse)
        if answer:
            known[answer.job.id] = answer.job.command
        return code, details, answer

    code, details, _ = submit_job(pb.SubmitJobRequest(command="true", on_disconnect=7))
    report.check("F8", "grpc.SubmitJob.on_disconnect=7",
                 code == INVALID and names(details, "on_disconnect"),
                 f"{code.name} {short(details)}")
    request = pb.SubmitJobRequest(command="true")
    request.env["GREETING"] = "a\0b"
    code, details, _ = submit_job(request)
    report.check("F8", "grpc.SubmitJob.NUL-in-env-value", code == INVALID and names(details, "env"),
                 f"{code.name} {short(details)}")
    code, details, _ = submit_job(pb.SubmitJobRequest(command="echo a\0b"))
    report.check("F8", "grpc.SubmitJob.NUL-in-command",
                 code == INVALID and names(details, "command"), f"{code.name} {short(details)}")
    request = pb.SubmitJobRequest(command="true")
    request.env["A=B"] = "x"
    code, details, _ = submit_job(request)
    report.check("F8", "grpc.SubmitJob.env-name-with-=", code == INVALID and names(details, "env"),
                 f"{code.name} {short(details)}")

    key = f"hostile-{time.time_ns()}"
    code1, _, first = submit_job(pb.SubmitJobRequest(command="true", idempotency_key=key))
    code2, _, again = submit_job(pb.SubmitJobRequest(command="true", idempotency_key=key))
    same = code1 == OK and code2 == OK and first.job.id == again.job.id
    report.check("D5", "grpc.SubmitJob.idempotency-key-same-request", same,
                 f"{code1.name}/{code2.name}, one job: {same}")
    code, details, _ = submit_job(pb.SubmitJobRequest(command="false", idempotency_key=key))
    first_id = first.job.id if first else "?"
    report.check("F8", "grpc.SubmitJob.idempotency-key-other-command",
                 code == grpc.StatusCode.ALREADY_EXISTS and first_id in details,
                 f"{code.name} {short(details)} (first job {first_id})")

    long_id = "j" * 10240
    for method, request, kind in (
            ("GetJobStatus", pb.GetJobStatusRequest(job_id=long_id), "unary"),
            ("CancelJob", pb.CancelJobRequest(job_id=long_id), "unary"),
            ("WaitJob", pb.WaitJobRequest(job_id=long_id, timeout_ms=100), "unary"),
            ("StreamJobLogs", pb.JobLogsRequest(job_id=long_id), "stream")):
        target = leader if method == "CancelJob" else follower
        if kind == "unary":
            code, details, _ = cluster.call(target, SCHED + method, request)
        else:
            code, details, _ = cluster.stream_call(target, SCHED + method, request)
        report.check("F6", f"grpc.{method}.10KiB-unknown-id",
                     code == NOT_FOUND and 0 < len(details) <= SHORT_MESSAGE,
                     f"{code.name}, message {len(details)} bytes {short(details, 60)}")

    # Odd but well-formed numbers get an answer, never INTERNAL, UNKNOWN or a hang.
    job_id = first_id
    for label, request in (("attempt=2^32-1", pb.JobLogsRequest(job_id=job_id, attempt=2**32 - 1)),
                           ("offset=2^64-1", pb.JobLogsRequest(job_id=job_id, offset=2**64 - 1))):
        code, details, _ = cluster.stream_call(follower, SCHED + "StreamJobLogs", request,
                                               timeout=5)
        report.check("D5", f"grpc.StreamJobLogs.{label}",
                     code in (OK, INVALID, NOT_FOUND, grpc.StatusCode.OUT_OF_RANGE),
                     f"{code.name} {short(details)}")
    code, details, _ = cluster.call(follower, list_jobs, pb.ListJobsRequest(limit=2**32 - 1),
                                    response=pb.ListJobsResponse)
    report.check("D5", "grpc.ListJobs.limit=2^32-1", code in (OK, INVALID),
                 f"{code.name} {short(details)}")

