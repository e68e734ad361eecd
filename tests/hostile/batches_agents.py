"""Hostile calls on the worker-only agents' methods (README "Worker-only agents"):
RegisterAgent, AgentStream and the agent side of ReportStream, with agent certificates from
`tls init --agents 2`, a client's and a node's. Agent 1 registers once (it never reports, so no
job is placed on it); agent 2's certificate then tries to act as agent 1."""

import grpc

from batches_grpc import INTERNAL, LARGE_TIMEOUT, SCHED, SHORT_MESSAGE, garbage, names
from harness import MIB
from report import short

INVALID = grpc.StatusCode.INVALID_ARGUMENT
DENIED = grpc.StatusCode.PERMISSION_DENIED
EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED
REGISTER = INTERNAL + "RegisterAgent"
AGENT_STREAM = INTERNAL + "AgentStream"
REPORT_STREAM = INTERNAL + "ReportStream"


def agents(cluster, pb, rng, report, known):
    leader = cluster.leader()
    follower = next(n for n in cluster.nodes if n is not leader)
    address = "127.0.0.1:1"  # never dialled: no job runs on the agent

    def register(request, identity="agent-1", node=leader, role=None):
        return cluster.call(node, REGISTER, request, role=role, identity=identity,
                            response=pb.RegisterAgentResponse)

    # Who may register: an agent's certificate only (nodes forward what they saw).
    for identity, role in (("client", "operator"), ("node-2", None)):
        code, details, _ = register(pb.RegisterAgentRequest(name="x", address=address, slots=1),
                                    identity=identity, role=role)
        report.check("held", f"grpc.RegisterAgent.{identity}-certificate", code == DENIED,
                     f"{code.name} {short(details)}")
    # Undecodable, wrong-typed, oversized and out-of-range requests.
    code, details, _ = register(garbage(rng))
    report.check("F8", "grpc.RegisterAgent.random-bytes", code == INVALID and details,
                 f"{code.name} {short(details)}")
    # name (field 2, a string) sent as a varint: kept as an unknown field; no address either.
    code, details, _ = register(b"\x10\x2a")
    report.check("D5", "grpc.RegisterAgent.name-as-varint",
                 code == INVALID and names(details, "address"), f"{code.name} {short(details)}")
    code, details, _ = register(pb.RegisterAgentRequest(name="n" * (64 * MIB), address=address),
                                node=follower)
    report.check("F2", "grpc.RegisterAgent.64MiB-name", code == EXHAUSTED,
                 f"{code.name} {short(details, 80)}")
    for label, request, field in (
            ("100KiB-name", pb.RegisterAgentRequest(name="n" * (100 * 1024), address=address,
                                                    slots=1), "name"),
            ("10KiB-address", pb.RegisterAgentRequest(name="a", address="h" * 10240, slots=1),
             "address"),
            ("address-without-port", pb.RegisterAgentRequest(name="a", address="127.0.0.1",
                                                             slots=1), "address"),
            ("slots=2^32-1", pb.RegisterAgentRequest(name="a", address=address, slots=2**32 - 1),
             "slots")):
        code, details, _ = register(request)
        report.check("D3", f"grpc.RegisterAgent.{label}",
                     code == INVALID and names(details, field) and len(details) <= SHORT_MESSAGE,
                     f"{code.name}, message {len(details)} bytes {short(details)}")
    code, details, _ = register(pb.RegisterAgentRequest(name="a", address=address, slots=1,
                                                        cluster="c" * 10240))
    report.check("F6", "grpc.RegisterAgent.10KiB-other-cluster",
                 code == grpc.StatusCode.FAILED_PRECONDITION and 0 < len(details) <= SHORT_MESSAGE,
                 f"{code.name}, message {len(details)} bytes {short(details, 60)}")
    code, details, _ = register(pb.RegisterAgentRequest(id=2**64 - 1, name="a", address=address,
                                                        slots=1))
    report.check("D5", "grpc.RegisterAgent.id-never-given",
                 code == grpc.StatusCode.FAILED_PRECONDITION and "never given" in details,
                 f"{code.name} {short(details)}")

    # Agent 1 registers (through a follower, which forwards to the leader).
    code, details, agent1 = register(pb.RegisterAgentRequest(name="hostile-agent",
                                                             address=address, slots=1),
                                     node=follower)
    if not report.check("D6", "grpc.RegisterAgent.agent-1-registers", code == grpc.StatusCode.OK
                        and agent1 and agent1.id, f"{code.name} {short(details)}"):
        return
    a1 = agent1.id
    code, details, _ = register(pb.RegisterAgentRequest(id=a1, name="hostile-agent",
                                                        address="127.0.0.1:2", slots=1,
                                                        cluster=agent1.cluster),
                                identity="agent-2")
    report.check("held", "grpc.RegisterAgent.agent-2-takes-agent-1s-id", code == DENIED,
                 f"{code.name} {short(details)}")

    # AgentStream: only an agent, only its own, only a registered one.
    def agent_stream(request, identity, timeout=5):
        # A client's certificate needs a token to get as far as the peer gate.
        return cluster.stream_call(leader, AGENT_STREAM, request,
                                   role="operator" if identity == "client" else None,
                                   identity=identity, timeout=timeout, response=pb.AgentUpdate)

    for identity, request, label, want in (
            ("client", pb.AgentStreamRequest(agent_id=a1), "client-certificate", DENIED),
            ("node-2", pb.AgentStreamRequest(agent_id=a1), "node-certificate", DENIED),
            ("agent-2", pb.AgentStreamRequest(agent_id=a1), "agent-2-opens-agent-1s", DENIED),
            ("agent-1", pb.AgentStreamRequest(agent_id=2**64 - 1), "unregistered-id",
             grpc.StatusCode.NOT_FOUND),
            ("agent-1", garbage(rng), "random-bytes", INVALID)):
        code, details, _ = agent_stream(request, identity)
        report.check("F8" if want == INVALID else "held", f"grpc.AgentStream.{label}",
                     code == want and details, f"{code.name} {short(details)}")
    code, details, _ = agent_stream(b"\x0a\xff\xff\xff\x3f" + b"x" * (64 * MIB), "agent-1",
                                    timeout=LARGE_TIMEOUT)
    report.check("F2", "grpc.AgentStream.64MiB-request", code == EXHAUSTED,
                 f"{code.name} {short(details, 80)}")
    # Its own stream opens and starts with a full update (then this client goes away).
    chan = cluster.new_channel(leader, "agent-1")
    try:
        stream = chan.unary_stream(AGENT_STREAM, request_serializer=lambda m: m.SerializeToString(),
                                   response_deserializer=pb.AgentUpdate.FromString)(
            pb.AgentStreamRequest(agent_id=a1), timeout=5, wait_for_ready=True)
        first = next(stream, None)
        report.check("D6", "grpc.AgentStream.agent-1-opens-its-own", first is not None
                     and first.full, "first update " + ("full" if first and first.full else
                                                         "not full" if first else "missing"))
        stream.cancel()
    except grpc.RpcError as e:
        report.check("D6", "grpc.AgentStream.agent-1-opens-its-own", False,
                     f"{e.code().name} {short(e.details() or '')}")
    finally:
        chan.close()

    # ReportStream as an agent: only for the id its certificate registered, only its own
    # attempts. A job of the suite's own stands for one running elsewhere.
    code, _, answer = cluster.call(leader, SCHED + "SubmitJob", pb.SubmitJobRequest(command="true"),
                                   response=pb.SubmitJobResponse)
    if answer:
        known[answer.job.id] = answer.job.command

    def report_stream(reports, identity):
        return cluster.stream_call(leader, REPORT_STREAM, [r.SerializeToString()
                                                           if not isinstance(r, bytes) else r
                                                           for r in reports],
                                   role=None, identity=identity, client_streaming=True,
                                   timeout=5)

    forged = pb.WorkerReport(node_id=a1, slots=1, seq=1)
    forged.finished.add(job_id=answer.job.id if answer else "x", attempt=1, node_id=1,
                        exit_code=0, stdout_tail=b"forged by an agent\n")
    for label, reports, identity, want in (
            ("agent-2-as-agent-1", [pb.WorkerReport(node_id=a1, slots=1, seq=1)], "agent-2",
             DENIED),
            ("agent-1-as-node-1", [pb.WorkerReport(node_id=1, slots=1, seq=1)], "agent-1",
             DENIED),
            ("agent-1-finishes-another-nodes-attempt", [forged], "agent-1", DENIED),
            ("agent-1-random-bytes", [garbage(rng)], "agent-1", INVALID)):
        code, details, _ = report_stream(reports, identity)
        report.check("F1" if want == DENIED else "F8", f"grpc.ReportStream.{label}",
                     code == want and details, f"{code.name} {short(details)}")
    big = pb.WorkerReport(node_id=a1, slots=1, seq=1)
    big.finished.add(job_id="none", attempt=1, node_id=a1, stdout_tail=b"x" * (64 * MIB))
    code, details, _ = cluster.stream_call(leader, REPORT_STREAM, [big.SerializeToString()],
                                           role=None, identity="agent-1", client_streaming=True,
                                           timeout=LARGE_TIMEOUT)
    report.check("F2", "grpc.ReportStream.agent-1-64MiB-stdout_tail", code == EXHAUSTED,
                 f"{code.name} {short(details, 80)}")
    # The unary Report is for nodes only.
    code, details, _ = cluster.call(leader, INTERNAL + "Report",
                                    pb.WorkerReport(node_id=a1, slots=1), role=None,
                                    identity="agent-1")
    report.check("held", "grpc.Report.agent-certificate", code == DENIED,
                 f"{code.name} {short(details)}")
