"""What a compromised node and a job can do: forge another node's job result (F1), read the
server's secrets (F3)."""

import os
import time

import grpc

from harness import wait_for
from report import short

SCHED = "/nomad_lite.SchedulerService/"
INTERNAL = "/nomad_lite.InternalService/"


def get_job(cluster, node, job_id):
    pb = cluster.pb
    code, _, answer = cluster.call(node, SCHED + "GetJobStatus",
                                   pb.GetJobStatusRequest(job_id=job_id), role="read",
                                   response=pb.GetJobStatusResponse, fresh=False)
    return answer.job if code == grpc.StatusCode.OK else None


def submit(cluster, node, known, command, wait_ms=0):
    pb = cluster.pb
    code, details, answer = cluster.call(node, SCHED + "SubmitJob",
                                         pb.SubmitJobRequest(command=command, wait_ms=wait_ms),
                                         timeout=wait_ms / 1000 + 10,
                                         response=pb.SubmitJobResponse, fresh=False)
    if code != grpc.StatusCode.OK:
        raise RuntimeError(f"SubmitJob {command!r}: {code.name} {details}")
    known[answer.job.id] = command
    return answer.job


def running_on(cluster, leader, ids, node_id):
    """Jobs among `ids` running on `node_id` now."""
    jobs = [get_job(cluster, leader, i) for i in ids]
    return [j for j in jobs
            if j and j.status == cluster.pb.JOB_STATUS_RUNNING and j.node_id == node_id]


def wait_applied(cluster, node, index, timeout=5):
    return wait_for(lambda: (s := cluster.status(node)) and s.applied_index >= index, timeout)


def forged_reports(cluster, report, known):
    """F1: node 2, with its own certificate, reports node 1's running attempt as finished, in a
    Report call and on a ReportStream. Expected: PERMISSION_DENIED, the job still running, the
    refusal logged."""
    pb = cluster.pb
    leader = cluster.leader()
    ids = [submit(cluster, leader, known, "sleep 30").id for _ in range(6)]
    victims = wait_for(lambda: running_on(cluster, leader, ids, 1), 10)
    if len(victims or []) < 2:
        ids += [submit(cluster, leader, known, "sleep 30").id for _ in range(6)]
        victims = wait_for(lambda: len(r := running_on(cluster, leader, ids, 1)) >= 2 and r, 10)
    if not victims or len(victims) < 2:
        report.check("F1", "forged-report.setup", False, "no two jobs ran on node 1 within 20 s")
        return ids
    # The attempts node 2 really runs stay in the forged report, so that only the forgery
    # differs from what node 2's worker says.
    node2_running = running_on(cluster, leader, ids, 2)

    def forged(job, seq):
        r = pb.WorkerReport(node_id=2, slots=2, seq=seq)
        for j in node2_running:
            r.running.add(job_id=j.id, attempt=j.attempt)
        now = int(time.time() * 1000)
        r.finished.add(job_id=job.id, attempt=job.attempt, node_id=1, at_ms=now, exit_code=0,
                       stdout_tail=b"forged by node 2\n", started_at_ms=now - 1000)
        return r

    log_before = len(leader.log_lines())
    victim = victims[0]
    code, details, ack = cluster.call(leader, INTERNAL + "Report", forged(victim, 1 << 40),
                                      role=None, identity="node-2",
                                      response=pb.WorkerReportAck)
    report.check("F1", "forged-report.Report.refused", code == grpc.StatusCode.PERMISSION_DENIED,
                 f"{code.name} {short(details)}")
    check_untouched(cluster, leader, victim, ack, report, "Report")
    new_lines = leader.log_lines()[log_before:]
    logged = [line for line in new_lines
              if victim.id[:8] in line or ("report" in line.lower() and any(
                  word in line.lower() for word in ("refus", "denied", "reject", "forg")))]
    report.check("F1", "forged-report.Report.logged", logged,
                 f"{len(logged)} log lines on node {leader.id} about it"
                 + (f": {short(logged[0], 100)}" if logged else ""))

    victim = victims[1]
    code, details, acks = cluster.stream_call(leader, INTERNAL + "ReportStream",
                                              [forged(victim, (1 << 40) + 1)], role=None,
                                              identity="node-2", client_streaming=True,
                                              timeout=5, response=pb.WorkerReportAck)
    report.check("F1", "forged-report.ReportStream.refused",
                 code == grpc.StatusCode.PERMISSION_DENIED,
                 f"{code.name} {short(details)} ({len(acks)} acks)")
    check_untouched(cluster, leader, victim, acks[-1] if acks else None, report, "ReportStream")
    return ids


def check_untouched(cluster, leader, victim, ack, report, how):
    """The victim's attempt is still running once the leader applied everything it proposed
    up to its answer (the ack's last_index, or its commit index now)."""
    index = ack.last_index if ack and ack.last_index else (cluster.status(leader).commit_index)
    wait_applied(cluster, leader, index)
    job = get_job(cluster, leader, victim.id)
    untouched = (job and job.status == cluster.pb.JOB_STATUS_RUNNING
                 and job.attempt == victim.attempt and b"forged" not in job.stdout_tail)
    seen = (f"job {victim.id} attempt {victim.attempt} on node 1: "
            f"{cluster.pb.JobStatus.Name(job.status) if job else 'gone'}, exit "
            f"{job.exit_code if job and job.HasField('exit_code') else '-'}, "
            f"stdout {short(job.stdout_tail if job else b'')}")
    report.check("F1", f"forged-report.{how}.job-untouched", untouched, seen)


def cancel_all(cluster, ids):
    pb = cluster.pb
    leader = cluster.leader()
    for i in ids:
        cluster.call(leader, SCHED + "CancelJob", pb.CancelJobRequest(job_id=i), fresh=False)


def job_secrets(cluster, report, known):
    """F3 / Deliver 2: a job cannot read any server's environment, the token file, the CA's
    key, a node's key or a data directory."""
    if os.geteuid() != 0:
        report.skip("F3", "job-secrets", "the nodes do not run as root here, so jobs run as the "
                    "same user as the server and no user switch can be checked")
        return
    targets = {f"/proc/{n.popen.pid}/environ (node {n.id})": f"/proc/{n.popen.pid}/environ"
               for n in cluster.nodes}
    targets["/proc/$PPID/environ"] = "/proc/$PPID/environ"
    targets["token file"] = os.path.join(cluster.certs, "tokens")
    targets["CA key"] = os.path.join(cluster.certs, "ca-key.pem")
    targets["node-1 key"] = os.path.join(cluster.certs, "node-1-key.pem")
    targets["data dir of node 1"] = os.path.join(cluster.out, "data/secure-1/")
    script = []
    for i, path in enumerate(targets.values()):
        reader = "ls" if path.endswith("/") else "head -c 1"
        script.append(f'if {reader} "{path}" >/dev/null 2>&1; then echo "{i} read"; '
                      f'else echo "{i} denied"; fi')
    job = submit(cluster, cluster.leader(), known, "\n".join(script), wait_ms=15000)
    if job.status not in (cluster.pb.JOB_STATUS_COMPLETED, cluster.pb.JOB_STATUS_FAILED):
        job = wait_for(lambda: (j := get_job(cluster, cluster.leader(), job.id)) and
                       j.status in (cluster.pb.JOB_STATUS_COMPLETED,
                                    cluster.pb.JOB_STATUS_FAILED) and j, 15) or job
    outcome = dict(line.split(" ", 1) for line in job.stdout_tail.decode().split("\n") if line)
    for i, name in enumerate(targets):
        seen = outcome.get(str(i), "no answer")
        report.check("F3", f"job-secrets.{name}", seen == "denied",
                     f"{seen} by job {job.id} on node {job.node_id} "
                     f"({cluster.pb.JobStatus.Name(job.status)})")
