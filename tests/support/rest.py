"""JSON over HTTP to a node's REST API (the dashboard port), with urllib alone.

(Not named http.py: this folder is on sys.path, and urllib imports the standard http.)"""

import json
import urllib.error
import urllib.request


def _decode(raw):
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return None


def http_json(url, body=None, timeout=3.0, method=None, raw=None):
    """GET url, or POST body as JSON when given (or `method`); returns (HTTP status, the decoded
    JSON answer or None), an error status with its JSON body too. raw: bytes sent as they are
    instead of body (a body json.dumps cannot write, such as a key given twice). Raises OSError
    when no answer came (refused, reset, timed out)."""
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data,
                                 method=method or ("POST" if data is not None else "GET"))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, _decode(r.read())
    except urllib.error.HTTPError as e:
        return e.code, _decode(e.read())


def try_http_json(url, body=None, timeout=3.0, method=None, raw=None):
    """http_json, with (0, None) when no answer came: for polling a node that may be down."""
    try:
        return http_json(url, body, timeout, method, raw)
    except OSError:
        return 0, None
