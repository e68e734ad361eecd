"""Growth of each node's RSS, open fds and threads over a run, from /proc samples.

Each process lifetime (node, incarnation) is a series of its own; one shorter than 8 samples
or 5 minutes says nothing. The first 10% of a series is warm-up and left out. A metric is flagged when
the mean of its last quarter exceeds the first quarter's by both a ratio and an absolute
amount (so that a few bytes on a small base are not flagged), and the linear fit rises."""

LIMITS = {  # metric: (ratio, absolute increase)
    # The heap (RssAnon) is what a leak grows; file and shared-memory pages (the WAL read back,
    # a data directory on tmpfs) are the kernel's to drop, so VmRSS alone misleads.
    "rss_anon": (1.25, 16 << 20),
    "fds": (1.25, 16),
    "threads": (1.25, 8),
    "rss": (None, None),  # reported, not flagged
    "rss_file": (None, None),
    "rss_shmem": (None, None),
}


def slope(points):
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    var = sum((t - mx) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    return sum((t - mx) * (v - my) for t, v in points) / var


def fmt(metric, v):
    return f"{v / (1 << 20):.1f} MiB" if metric.startswith("rss") else f"{v:.1f}"


def analyse_growth(samples, min_samples=8, min_minutes=5.0):
    series = {}
    for s in samples:
        series.setdefault((s["node"], s["inc"]), []).append(s)
    out = []
    for (node, inc), rows in sorted(series.items()):
        if len(rows) < min_samples:
            continue
        rows = rows[len(rows) // 10:]
        q = max(1, len(rows) // 4)
        minutes = (rows[-1]["t"] - rows[0]["t"]) / 60
        for metric, (ratio, absolute) in LIMITS.items():
            if any(r.get(metric) is None for r in rows):
                continue
            first = sum(r[metric] for r in rows[:q]) / q
            last = sum(r[metric] for r in rows[-q:]) / q
            per_hour = slope([(r["t"], r[metric]) for r in rows]) * 3600
            flag = (absolute is not None and minutes >= min_minutes and last > first * ratio and last - first > absolute
                    and per_hour > 0)
            out.append({
                "node": node, "incarnation": inc, "metric": metric, "first_quarter": first,
                "last_quarter": last, "per_hour": per_hour, "minutes": round(minutes, 1),
                "flag": flag,
                "text": (f"node {node} (start {inc}) {metric}: {fmt(metric, first)} -> "
                         f"{fmt(metric, last)} over {minutes:.0f} min, fit "
                         f"{fmt(metric, per_hour)}/h" + (" GROWING" if flag else "")),
            })
    return out
