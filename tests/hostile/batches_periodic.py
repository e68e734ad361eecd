"""Hostile requests on the periodic-job methods (README "Periodic jobs"): CreatePeriodicJob,
GetPeriodicJob, ListPeriodicJobs, ControlPeriodicJob over gRPC and /api/periodic... over REST.
Undecodable, wrong-typed, oversized and out-of-range input, and calls without a token or with
one whose role is too low. The one periodic job the suite creates runs @yearly, so it launches
no child while the suite runs, and is cancelled at the end."""

import json
import time

import grpc

from batches_grpc import LARGE_TIMEOUT, SCHED, SHORT_MESSAGE, bad_utf8, garbage, names
from batches_http import SHORT_BODY, error_of
from batches_http import names as body_names
from harness import MIB
from report import short

OK = grpc.StatusCode.OK
INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
CREATE = SCHED + "CreatePeriodicJob"
CONTROL = SCHED + "ControlPeriodicJob"
GET = SCHED + "GetPeriodicJob"
LIST = SCHED + "ListPeriodicJobs"


def create_request(pb, **schedule):
    job = schedule.pop("job", None) or pb.SubmitJobRequest(command="true")
    return pb.CreatePeriodicJobRequest(job=job, **schedule)


def periodic_grpc(cluster, pb, rng, report, known):
    leader = cluster.leader()
    follower = next(n for n in cluster.nodes if n is not leader)

    # Tokens: none, and one whose role is too low.
    for method, request, role, want in (
            (CREATE, create_request(pb, cron="@yearly"), None, grpc.StatusCode.UNAUTHENTICATED),
            (CREATE, create_request(pb, cron="@yearly"), "read", grpc.StatusCode.PERMISSION_DENIED),
            (CONTROL, pb.ControlPeriodicJobRequest(periodic_id="p-0", action=pb.PERIODIC_PAUSE),
             "read", grpc.StatusCode.PERMISSION_DENIED),
            (GET, pb.GetPeriodicJobRequest(periodic_id="p-0"), None,
             grpc.StatusCode.UNAUTHENTICATED),
            (LIST, pb.ListPeriodicJobsRequest(), "metrics", grpc.StatusCode.PERMISSION_DENIED)):
        code, details, _ = cluster.call(leader, method, request, role=role)
        name = method.rsplit("/", 1)[1]
        report.check("held", f"grpc.{name}.{role or 'no'}-token", code == want and details,
                     f"{code.name} {short(details)}")

    # Undecodable requests to each method.
    for method in (CREATE, CONTROL, GET, LIST):
        name = method.rsplit("/", 1)[1]
        for label, payload in (("random", garbage(rng)), ("bad-utf8", bad_utf8(rng))):
            if label == "bad-utf8" and method == LIST:
                continue  # no string field
            # CreatePeriodicJob's field 1 is the job (a message): the bad bytes go inside it.
            if label == "bad-utf8" and method == CREATE:
                payload = bytes([0x0a, len(payload)]) + payload
            code, details, _ = cluster.call(follower, method, payload)
            report.check("F8", f"grpc.{name}.{label}-bytes", code == INVALID and details,
                         f"{code.name} {short(details)}")

    # Oversized: beyond what gRPC takes, and beyond the API's own limits.
    code, details, _ = cluster.call(follower, CREATE,
                                    create_request(pb, cron="* " * (32 * MIB)),
                                    timeout=LARGE_TIMEOUT)
    report.check("F2", "grpc.CreatePeriodicJob.64MiB-cron", code == grpc.StatusCode.RESOURCE_EXHAUSTED,
                 f"{code.name} {short(details, 80)}")

    def create(label, request, field, finding="D5"):
        code, details, answer = cluster.call(leader, CREATE, request,
                                             response=pb.PeriodicJobResponse)
        ok = code == INVALID and names(details, field) and len(details) <= SHORT_MESSAGE
        report.check(finding, f"grpc.CreatePeriodicJob.{label}", ok,
                     f"{code.name}, message {len(details)} bytes {short(details)}")
        if answer and answer.periodic.periodic.id:  # accepted by mistake: stop it
            cluster.call(leader, CONTROL, pb.ControlPeriodicJobRequest(
                periodic_id=answer.periodic.periodic.id, action=pb.PERIODIC_CANCEL))

    create("10KiB-cron", create_request(pb, cron="1," * 5120 + "1 * * * *"), "cron", "D3")
    create("after", create_request(pb, cron="@yearly", job=pb.SubmitJobRequest(
        command="true", after=[next(iter(known), "x")])), "after")
    create("100KiB-command", create_request(pb, cron="@yearly",
                                            job=pb.SubmitJobRequest(command="x" * (100 * 1024))),
           "command", "D3")
    create("10KiB-tz", create_request(pb, cron="@yearly", tz="Z" * 10240), "", "F6")
    create("NUL-in-cron", create_request(pb, cron="0 0 * * *\0 rm"), "", "F8")
    create("newline-in-tz", create_request(pb, cron="@yearly", tz="Europe/Berlin\nINJECTED"),
           "", "F8")
    create("step-0", create_request(pb, cron="*/0 * * * *"), "")
    create("minute-2^64", create_request(pb, cron="18446744073709551616 * * * *"), "minute")
    create("neither-cron-nor-every", create_request(pb), "cron")
    create("both-cron-and-every", create_request(pb, cron="@yearly", every_ms=1000), "cron")
    create("every_ms=1", create_request(pb, every_ms=1), "every_ms")
    create("tz-with-every", create_request(pb, every_ms=60_000, tz="Europe/Berlin"), "tz")
    create("overlap=7", create_request(pb, cron="@yearly", overlap=7), "overlap", "F8")
    create("catch_up=9", create_request(pb, cron="@yearly", catch_up=9), "catch_up", "F8")
    create("keep_runs=0", create_request(pb, cron="@yearly", keep_runs=0), "keep_runs")
    create("keep_runs=2^32-1", create_request(pb, cron="@yearly", keep_runs=2**32 - 1),
           "keep_runs")
    create("no-command", create_request(pb, cron="@yearly", job=pb.SubmitJobRequest()),
           "command")
    # cron (field 2, a string) as a varint: an unknown field, so no schedule is given.
    job = pb.SubmitJobRequest(command="true").SerializeToString()
    create("cron-as-varint", bytes([0x0a, len(job)]) + job + b"\x10\x2a", "cron")

    # One real periodic job: the controls' checks need an id that exists.
    code, details, created = cluster.call(leader, CREATE, create_request(
        pb, cron="@yearly", job=pb.SubmitJobRequest(command="true",
                                                    idempotency_key=f"hostile-{time.time_ns()}")),
        response=pb.PeriodicJobResponse)
    if not report.check("D6", "grpc.CreatePeriodicJob.@yearly", code == OK,
                        f"{code.name} {short(details)}"):
        return None
    pid = created.periodic.periodic.id
    for label, action in (("action=0", 0), ("action=99", 99)):
        code, details, _ = cluster.call(leader, CONTROL,
                                        pb.ControlPeriodicJobRequest(periodic_id=pid,
                                                                     action=action))
        report.check("F8", f"grpc.ControlPeriodicJob.{label}",
                     code == INVALID and names(details, "action"), f"{code.name} {short(details)}")
    long_id = "p" * 10240
    for method, request in (
            (GET, pb.GetPeriodicJobRequest(periodic_id=long_id)),
            (CONTROL, pb.ControlPeriodicJobRequest(periodic_id=long_id,
                                                   action=pb.PERIODIC_RUN_NOW))):
        code, details, _ = cluster.call(leader if method == CONTROL else follower, method,
                                        request)
        name = method.rsplit("/", 1)[1]
        report.check("F6", f"grpc.{name}.10KiB-unknown-id",
                     code == NOT_FOUND and 0 < len(details) <= SHORT_MESSAGE,
                     f"{code.name}, message {len(details)} bytes {short(details, 60)}")
    code, details, _ = cluster.call(leader, CONTROL, pb.ControlPeriodicJobRequest(
        periodic_id="p-0\0x", action=pb.PERIODIC_PAUSE))
    report.check("F8", "grpc.ControlPeriodicJob.NUL-in-id",
                 code == INVALID and names(details, "periodic_id"), f"{code.name} {short(details)}")
    code, details, answer = cluster.call(follower, LIST,
                                         pb.ListPeriodicJobsRequest(min_index=2**64 - 1),
                                         timeout=15, response=pb.ListPeriodicJobsResponse)
    report.check("D5", "grpc.ListPeriodicJobs.min_index=2^64-1",
                 code not in (OK, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN,
                              grpc.StatusCode.DEADLINE_EXCEEDED) and details,
                 f"{code.name} {short(details)}")
    return pid


def periodic_http(cluster, report, known, pid):
    node = cluster.nodes[0]

    def post(path, body, role="operator"):
        status, _, raw = cluster.http(node, "POST", path, body=body, role=role)
        message = error_of(raw)
        if status == 201:  # accepted by mistake: stop it
            try:
                made = json.loads(raw)["id"]
                cluster.http(node, "POST", f"/api/periodic/{made}/cancel", body="")
            except (ValueError, KeyError):
                pass
        return status, message, raw

    status, _, _ = post("/api/periodic", '{"command": "true", "cron": "@yearly"}', role=None)
    report.check("held", "http.POST /api/periodic.no-token", status == 401, f"{status}")
    status, _, _ = post("/api/periodic", '{"command": "true", "cron": "@yearly"}', role="read")
    report.check("held", "http.POST /api/periodic.read-token", status == 403, f"{status}")
    if pid:
        status, _, _ = post(f"/api/periodic/{pid}/pause", "", role="read")
        report.check("held", "http.POST /api/periodic/{id}/pause.read-token", status == 403,
                     f"{status}")
    status, _, _ = cluster.http(node, "GET", "/api/periodic", role=None)
    report.check("held", "http.GET /api/periodic.no-token", status == 401, f"{status}")

    cases = [
        ("cron-number", '{"command": "true", "cron": 5}', "cron", "D5"),
        ("every-number", '{"command": "true", "every": 60}', "every", "D5"),
        ("every-garbage", '{"command": "true", "every": "soon"}', "every", "D5"),
        ("tz-array", '{"command": "true", "cron": "@daily", "tz": ["UTC"]}', "tz", "D5"),
        ("overlap-unknown", '{"command": "true", "every": "1m", "overlap": "maybe"}', "overlap",
         "D5"),
        ("catch_up-bool", '{"command": "true", "every": "1m", "catch_up": true}', "catch_up",
         "D5"),
        ("keep_runs-string", '{"command": "true", "every": "1m", "keep_runs": "5"}',
         "keep_runs", "D5"),
        ("keep_runs-negative", '{"command": "true", "every": "1m", "keep_runs": -1}',
         "keep_runs", "D5"),
        ("keep_runs-float", '{"command": "true", "every": "1m", "keep_runs": 1.5}', "keep_runs",
         "D5"),
        ("command-number", '{"command": 5, "every": "1m"}', "command", "D5"),
        ("unknown-field", '{"command": "true", "every": "1m", "paused": true}', "paused", "D5"),
        ("duplicate-key", '{"command": "true", "cron": "@yearly", "cron": "* * * * * *"}',
         "cron", "F8"),
        ("duplicate-key-in-env",
         '{"command": "true", "every": "1m", "env": {"A": "1", "A": "2"}}', "A", "F8"),
        ("NUL-in-cron", '{"command": "true", "cron": "0 0 * * *\\u0000"}', "", "F8"),
        ("NUL-in-command", '{"command": "echo a\\u0000b", "every": "1m"}', "command", "F8"),
        ("array-body", '[{"command": "true", "every": "1m"}]', "object", "D5"),
        ("not-json", '{"command": "true", "every": "1m",', "JSON", "D5"),
        ("after", '{"command": "true", "every": "1m", "after": ["x"]}', "after", "D5"),
    ]
    for label, body, field, finding in cases:
        status, message, _ = post("/api/periodic", body)
        report.check(finding, f"http.POST /api/periodic.{label}",
                     status == 400 and body_names(message, field), f"{status} {short(message)}")
    status, message, raw = post("/api/periodic", json.dumps({"command": "true",
                                                             "cron": "1," * 5120 + "1 * * * *"}))
    report.check("D3", "http.POST /api/periodic.10KiB-cron",
                 status == 400 and len(raw) <= SHORT_BODY and body_names(message, "cron"),
                 f"{status}, body {len(raw)} bytes {short(message, 60)}")
    status, message, _ = post("/api/periodic", b"\x00\xff\xfe{")
    report.check("D5", "http.POST /api/periodic.binary-body", status == 400 and message,
                 f"{status} {short(message)}")
    status, _, raw = cluster.http(node, "POST", "/api/periodic", body="x" * (2 * MIB))
    report.check("D3", "http.POST /api/periodic.2MiB-body", status == 413,
                 f"{status} {short(raw, 60)}")

    long_id = "p" * 10240
    for method, path in (("GET", f"/api/periodic/{long_id}"),
                         ("POST", f"/api/periodic/{long_id}/run-now"),
                         ("POST", f"/api/periodic/{long_id}/cancel")):
        status, _, raw = cluster.http(node, method, path, body="" if method == "POST" else None)
        report.check("F6", f"http.{method} {path.replace(long_id, '<10KiB id>')}",
                     status in (404, 414) and len(raw) <= SHORT_BODY,
                     f"{status}, body {len(raw)} bytes {short(raw, 60)}")
    for label, query, field in (("consistent=maybe", "consistent=maybe", "consistent"),
                                ("min_index=-1", "min_index=-1", "min_index")):
        status, _, raw = cluster.http(node, "GET", f"/api/periodic?{query}", role="read")
        message = error_of(raw)
        report.check("D5", f"http.GET /api/periodic?{label}",
                     status == 400 and body_names(message, field), f"{status} {short(message)}")
    some = pid or "p-0"
    for path in ("/api/periodic", f"/api/periodic/{some}", f"/api/periodic/{some}/pause",
                 f"/api/periodic/{some}/run-now"):
        status, headers, _ = cluster.http(node, "DELETE", path)
        report.check("D5", f"http.DELETE {path.replace(some, '{id}')}",
                     status == 405 and headers.get("allow"),
                     f"{status} Allow: {headers.get('allow', '(none)')}")
    if pid:
        status, _, raw = cluster.http(node, "POST", f"/api/periodic/{pid}/cancel", body="")
        report.check("D6", "http.POST /api/periodic/{id}/cancel (the suite's own)",
                     status == 200, f"{status} {short(raw, 80)}")


def periodic(cluster, pb, rng, report, known):
    pid = periodic_grpc(cluster, pb, rng, report, known)
    periodic_http(cluster, report, known, pid)
