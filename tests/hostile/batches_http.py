"""Hostile HTTPS requests to the dashboard port: wrong-typed and duplicate JSON, NUL bytes,
long ids, oversized bodies and headers, and many connections at once."""

import asyncio
import json
import re
import ssl
import time

from harness import MIB, wait_for
from report import short

SHORT_BODY = 600  # {"error": "..."} quoting at most a short prefix of the input


def error_of(body):
    try:
        return str(json.loads(body).get("error") or "")
    except (ValueError, AttributeError):
        return body.decode("utf-8", "replace")


def names(message, field):
    return re.search(field.replace("_", "[_ ]"), message, re.IGNORECASE) is not None


def strict_bodies(cluster, report, known):
    """F8: bodies that are not what the API takes get 400 naming the field; a reused
    idempotency key with another command gets 409 naming the first job; F9: HSTS."""
    node = cluster.nodes[0]

    def post(body, path="/api/jobs"):
        status, headers, raw = cluster.http(node, "POST", path, body=body)
        if status == 201:
            try:
                job = json.loads(raw)
                known[job["id"]] = job.get("command", "")
            except (ValueError, KeyError):
                pass
        return status, error_of(raw)

    cases = [
        ("command-number", '{"command": 5}', "command"),
        ("retries-string", '{"command": "true", "retries": "3"}', "retries"),
        ("env-array", '{"command": "true", "env": ["A=1"]}', "env"),
        ("env-value-number", '{"command": "true", "env": {"A": 5}}', "env"),
        ("timeout-number", '{"command": "true", "timeout": 30}', "timeout"),
        ("priority-float", '{"command": "true", "priority": 1.5}', "priority"),
        ("on_disconnect-unknown", '{"command": "true", "on_disconnect": "bogus"}',
         "on_disconnect"),
        ("lost_retries-negative", '{"command": "true", "lost_retries": -1}', "lost_retries"),
    ]
    for label, body, field in cases:
        status, message = post(body)
        report.check("D5", f"http.POST /api/jobs.{label}", status == 400 and names(message, field),
                     f"{status} {short(message)}")
    strict = [
        ("duplicate-key", '{"command": "true", "command": "echo pwned"}', "command"),
        ("NUL-in-command", '{"command": "echo a\\u0000b"}', "command"),
        ("NUL-in-env-value", '{"command": "true", "env": {"A": "x\\u0000y"}}', "env"),
    ]
    for label, body, field in strict:
        status, message = post(body)
        report.check("F8", f"http.POST /api/jobs.{label}", status == 400 and names(message, field),
                     f"{status} {short(message)}")
    status, message = post(b"\x00\xff\xfe{")
    report.check("D5", "http.POST /api/jobs.binary-body", status == 400 and message,
                 f"{status} {short(message)}")

    key = f"hostile-http-{time.time_ns()}"
    first_status, first_raw = cluster.http(node, "POST", "/api/jobs",
                                           body=json.dumps({"command": "true",
                                                            "idempotency_key": key}))[::2]
    first_id = json.loads(first_raw).get("id", "?") if first_status == 201 else "?"
    if first_status == 201:
        known[first_id] = "true"
    status, message = post(json.dumps({"command": "false", "idempotency_key": key}))
    report.check("F8", "http.POST /api/jobs.idempotency-key-other-command",
                 status == 409 and first_id in message,
                 f"{status} {short(message)} (first job {first_id})")

    for label, query, field in (("status=bogus", "status=bogus", "status"),
                                ("page_token=-1", "page_token=-1", "page_token"),
                                ("limit=-5", "limit=-5", "limit")):
        status, _, raw = cluster.http(node, "GET", f"/api/jobs?{query}", role="read")
        message = error_of(raw)
        finding = "F8" if field == "page_token" else "D5"
        report.check(finding, f"http.GET /api/jobs?{label}",
                     status == 400 and names(message, field), f"{status} {short(message)}")
    # A 10 KiB target may also be refused whole as too long (414): either way, briefly.
    status, _, raw = cluster.http(node, "GET", "/api/jobs?page_token=" + "7" * 10240, role="read")
    report.check("F6", "http.GET /api/jobs?page_token=10KiB",
                 status in (400, 414) and len(raw) <= SHORT_BODY,
                 f"{status}, body {len(raw)} bytes {short(raw, 60)}")

    long_id = "j" * 10240
    for method, path in (("GET", f"/api/jobs/{long_id}"), ("POST", f"/api/jobs/{long_id}/cancel"),
                         ("GET", f"/api/jobs/{long_id}/logs")):
        status, _, raw = cluster.http(node, method, path, body="" if method == "POST" else None)
        report.check("F6", f"http.{method} {path.replace(long_id, '<10KiB id>')}",
                     status in (404, 414) and len(raw) <= SHORT_BODY,
                     f"{status}, body {len(raw)} bytes {short(raw, 60)}")

    # Every route with a method it does not take: 405 naming the right ones.
    some_id = next(iter(known), "x")
    for path in ("/api/cluster", "/api/jobs", f"/api/jobs/{some_id}",
                 f"/api/jobs/{some_id}/cancel", f"/api/jobs/{some_id}/logs", "/api/events",
                 "/health/live", "/health/ready"):
        status, headers, raw = cluster.http(node, "DELETE", path)
        report.check("D5", f"http.DELETE {path.replace(some_id, '{id}')}",
                     status == 405 and headers.get("allow"),
                     f"{status} Allow: {headers.get('allow', '(none)')}")
    # Not HTTP at all (inside the TLS session): refused or closed.
    started = time.monotonic()
    status, _, _ = cluster.http(node, None, None, raw_head=bytes(range(256)) * 4, timeout=3)
    took = time.monotonic() - started
    report.check("D5", "http.random-bytes", status in (0, 400) and took < 2,
                 f"{status} after {took:.2f} s (400 or closed, at once)")

    status, headers, _ = cluster.http(node, "GET", "/", role=None)
    hsts = headers.get("strict-transport-security", "")
    report.check("F9", "http.GET /.HSTS", status == 200 and "max-age=" in hsts,
                 f"{status} Strict-Transport-Security: {hsts or '(none)'}")


def oversized(cluster, report):
    """F4 and Deliver 3: bodies, request lines and headers beyond the limits are refused
    early, and the node's memory does not follow what was sent."""
    node = cluster.nodes[0]
    status, _, raw = cluster.http(node, "POST", "/api/jobs", body="x" * (2 * MIB))
    report.check("D3", "http.POST /api/jobs.2MiB-body", status == 413, f"{status} {short(raw, 60)}")
    # A 64 MiB body announced, 64 KiB sent: refused from its Content-Length, without waiting
    # for (or reading) the rest.
    head = (f"POST /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            f"Authorization: Bearer {cluster.tokens['operator']}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {64 * MIB}\r\n\r\n").encode()
    started = time.monotonic()
    status, _, raw = cluster.http(node, None, None, raw_head=head, body=b"x" * 65536, timeout=3)
    took = time.monotonic() - started
    report.check("D3", "http.POST /api/jobs.64MiB-announced", status == 413 and took < 3,
                 f"{status} in {took:.2f} s")
    status, _, _ = cluster.http(node, "GET", "/api/jobs/" + "a" * (100 * 1024), role="read")
    report.check("D3", "http.GET.100KiB-request-target", status in (400, 414),
                 f"{status} (400 or 414 expected)")
    status, _, _ = cluster.http(node, "GET", "/health/live", role=None,
                                headers={"X-Big": "b" * MIB})
    report.check("F4", "http.GET /health/live.1MiB-header", status in (400, 431),
                 f"{status} (400 or 431 expected)")
    status, _, _ = cluster.http(node, "GET", "/health/live", role=None,
                                headers={"X-Nul": "a\0b"})
    report.check("D5", "http.GET /health/live.NUL-in-header", status == 400,
                 f"{status} (400 expected)")

    rss_before = node.proc.rss_mib()
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(1_000_000))
    head = b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + many + b"\r\n"
    started = time.monotonic()
    status, _, _ = cluster.http(node, None, None, raw_head=head, timeout=20)
    took = time.monotonic() - started
    grown = node.proc.rss_mib() - rss_before
    report.check("F4", "http.GET /health/live.1M-headers",
                 status in (0, 400, 431), f"{status} after {took:.2f} s for "
                 f"{len(head) / MIB:.1f} MiB (431, 400 or closed expected)")
    report.check("F4", "http.GET /health/live.1M-headers.rss", grown < 16,
                 f"node {node.id} RSS {rss_before:.0f} -> {rss_before + grown:.0f} MiB "
                 f"(+{grown:.0f}, under 16 allowed)")


async def _hold(cluster, node, count, request, ready_timeout, read_answer=True):
    """Opens `count` TLS connections at once, each sending `request` (and reading the status
    line of the answer when `read_answer`); returns (handshakes completed, status codes seen,
    writers to close)."""
    ctx = cluster.tls_context()
    writers, statuses = [], []
    handshakes = 0

    async def one():
        nonlocal handshakes
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", node.http_port, ssl=ctx, server_hostname="127.0.0.1",
                ssl_handshake_timeout=ready_timeout)
        except (OSError, ssl.SSLError, asyncio.TimeoutError):
            return
        writers.append(writer)
        handshakes += 1
        if request is None:
            return
        writer.write(request)
        try:
            await writer.drain()
            if not read_answer:
                return
            line = await reader.readline()
            statuses.append(int(line.split()[1]) if line.startswith(b"HTTP/") else 0)
        except (OSError, ssl.SSLError, ValueError, IndexError):
            statuses.append(0)

    tasks = [asyncio.ensure_future(one()) for _ in range(count)]
    await asyncio.wait(tasks, timeout=ready_timeout)
    for t in tasks:
        t.cancel()
    return handshakes, statuses, writers


def _close(loop, writers):
    """Closes the connections and waits (up to 5 s) until the close went out."""
    for w in writers:
        w.close()

    async def closed():
        # A node may answer a close with more data; any error here is the connection's end.
        waits = asyncio.gather(*(w.wait_closed() for w in writers), return_exceptions=True)
        try:
            await asyncio.wait_for(waits, 5)
        except asyncio.TimeoutError:
            pass

    if writers:
        loop.run_until_complete(closed())


def liveness_while(cluster, node, samples=5):
    """Seconds each of `samples` fresh /health/live requests took (a new TLS connection each);
    stops at the first that gets no answer within a second (inf)."""
    took = []
    for _ in range(samples):
        started = time.monotonic()
        ok = cluster.live(node, timeout=1)
        took.append(time.monotonic() - started if ok else float("inf"))
        if not ok:
            break
    return took


def connections(cluster, report, count=2000, streams=300, slow=50):
    """F5 / Deliver 4: 2,000 connections opened at once are all served, and slow-header
    connections and event streams do not slow /health/live."""
    node = cluster.nodes[0]
    fds_at_start = node.proc.fds()
    loop = asyncio.new_event_loop()
    try:
        partial = b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
        done, _, slow_writers = loop.run_until_complete(
            _hold(cluster, node, slow, partial, 10, read_answer=False))
        took = liveness_while(cluster, node)
        report.check("D3", f"http.{slow}-slow-header-connections.liveness",
                     done == slow and max(took) < 0.2,
                     f"{done}/{slow} held; /health/live in "
                     f"{', '.join(f'{t * 1000:.0f}' for t in took)} ms (each under 200)")

        request = b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        started = time.monotonic()
        shaken, statuses, writers = loop.run_until_complete(
            _hold(cluster, node, count, request, 10))
        elapsed = time.monotonic() - started
        answered = sum(1 for s in statuses if s == 200)
        report.check("F5", f"http.{count}-connections-at-once.served", answered == count,
                     f"{shaken} TLS handshakes, {answered} answered 200 of {count} "
                     f"in {elapsed:.1f} s")
        took = liveness_while(cluster, node)
        report.check("F5", f"http.{count}-connections-held.liveness", max(took) < 0.2,
                     f"/health/live in {', '.join(f'{t * 1000:.0f}' for t in took)} ms "
                     f"(each under 200)")
        _close(loop, writers + slow_writers)
        writers = slow_writers = []

        # More rounds, once the node has let the first round go. Freed memory stays in the
        # allocator's and OpenSSL's hands, so the first rounds may still raise the RSS (more so
        # after the batches before this one); a leak grows it with every round, so some round
        # from the third to the sixth must not grow it by more than 32 MiB.
        def another_round():
            _, statuses, writers = loop.run_until_complete(
                _hold(cluster, node, count, request, 10))
            _close(loop, writers)
            wait_for(lambda: node.proc.fds() <= fds_at_start + 32, 5)
            return node.proc.rss_mib(), sum(1 for s in statuses if s == 200)

        wait_for(lambda: node.proc.fds() <= fds_at_start + 32, 5)
        rounds = [node.proc.rss_mib(), another_round()[0]]
        for _ in range(4):
            rss, answered = another_round()
            if rss - rounds[-1] > 32:
                # Memory the closed connections held may take a moment to go back (as in D3).
                wait_for(lambda: node.proc.rss_mib() - rounds[-1] <= 32, 5)
                rss = node.proc.rss_mib()
            rounds.append(rss)
            if rounds[-1] - rounds[-2] <= 32:
                break
        report.check("D4", f"http.{count}-connections.rounds.rss",
                     rounds[-1] - rounds[-2] <= 32,
                     f"node {node.id} RSS after each round: "
                     f"{', '.join(f'{r:.0f}' for r in rounds)} MiB (a round from the third on "
                     f"must add at most 32); {answered} answered 200")

        auth = cluster.tokens["read"]
        events = (f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  f"Authorization: Bearer {auth}\r\n\r\n").encode()
        shaken, statuses, writers = loop.run_until_complete(
            _hold(cluster, node, streams, events, 5))
        ok = sum(1 for s in statuses if s == 200)
        refused = sum(1 for s in statuses if s in (429, 503))
        took = liveness_while(cluster, node)
        report.check("D4", f"http.{streams}-event-streams.answered",
                     ok + refused == streams and ok > 0,
                     f"{ok} streams, {refused} refused (429/503), "
                     f"{streams - ok - refused} without an answer")
        report.check("D4", f"http.{streams}-event-streams.liveness", max(took) < 0.2,
                     f"/health/live in {', '.join(f'{t * 1000:.0f}' for t in took)} ms "
                     f"(each under 200)")
        _close(loop, writers)
    finally:
        loop.close()
