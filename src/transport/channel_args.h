#pragma once

// The gRPC settings of every connection between the processes of a cluster, in one place.
//
// A network partition looks to TCP like a peer that stopped answering: no RST, no FIN. Left
// to the kernel, a connection stays mute until its retransmission timer fires, and that timer
// backs off to tens of seconds over a long partition. So both ends ping every connection
// (HTTP/2 PING, kKeepaliveTime after the last one was answered from a client's end,
// kServerKeepaliveTime from a server's) and close it when a ping or sent data stays
// unacknowledged for kKeepaliveTimeout (gRPC also sets TCP_USER_TIMEOUT to it). A client
// closes a dead connection within about two seconds, and its channel then redials
// with a short backoff, each attempt given kConnectTimeout, so a partition that heals is
// crossed again within about a second.

#include <grpcpp/grpcpp.h>

#include <chrono>

namespace nomad::transport {

inline constexpr std::chrono::milliseconds kKeepaliveTime{1000};
inline constexpr std::chrono::milliseconds kKeepaliveTimeout{1000};
// A worker-only agent's connections to the servers ping less often: its reports (every 500 ms
// while it runs jobs) and their acks show the connection alive, and a report left
// unacknowledged closes a mute connection within kKeepaliveTimeout (TCP_USER_TIMEOUT).
inline constexpr std::chrono::milliseconds kAgentKeepaliveTime{5000};
// A server pings each of its clients this long after the last ping was answered, and closes
// the connection when one stays unanswered for kKeepaliveTimeout: the server's end of a mute
// connection (and an idle agent's stream, which tells the leader the agent is there) is
// closed within about 6 s. Every second, as clients ping, cost a leader with a thousand
// agents' connections half of its idle CPU. Nothing waits on the server's end: the client's
// end, which redials, is closed within about 2 s, and data the server sends unanswered closes
// the connection within kKeepaliveTimeout. (gRPC has one set of server settings for all.)
inline constexpr std::chrono::milliseconds kServerKeepaliveTime{5000};
// How long a connection attempt (TCP, TLS and HTTP/2 handshakes) may take between nodes and
// from clients, and from agents (channel_args.cc says why neither is the few hundred ms of the
// reconnect backoff).
inline constexpr std::chrono::milliseconds kConnectTimeout{1000};
inline constexpr std::chrono::milliseconds kAgentConnectTimeout{5000};
// A leader change ends every agent's stream at once: each agent (and each simulated one of
// `bench agents`) waits a random share of this before following the new leader, so the new
// leader takes their registrations (and, with TLS, handshakes) spread out.
inline constexpr std::chrono::milliseconds kAgentRejoinSpread{1000};

// Message sizes, from what the API and the cluster's own traffic need (README "Limits"):
// - A client request (SchedulerService): a 64 KiB command and 64 KiB of environment plus
//   small fields; 256 KiB leaves room and is checked per call (api/grpc_service.cc).
inline constexpr size_t kMaxClientRequestBytes = 256 << 10;
// - A Raft batch carries at most 4 MiB of entries and snapshot chunks (1 MiB each) beyond
//   its first message; a worker report at most 4 MiB of finished attempts (with their
//   64 KiB output tails) beyond its first; a job list page at most 8 MiB of jobs. One entry,
//   report entry or job is at most a few hundred KiB, so every message of a node, and every
//   answer to a client, fits in 16 MiB. That is the server's limit for receiving and sending,
//   and every channel's for receiving.
inline constexpr size_t kMaxPeerBatchBytes = 4 << 20;
inline constexpr size_t kMaxNodeMessageBytes = 16 << 20;

// Raft peer streams: reconnect backoff 50 ms growing to 300 ms; messages up to 16 MiB.
grpc::ChannelArguments peer_channel_arguments();

// Other node-to-node channels (worker reports to the leader, output streams, requests
// forwarded to the leader): reconnect backoff 100 ms growing to 300 ms.
grpc::ChannelArguments node_channel_arguments(std::chrono::milliseconds keepalive = kKeepaliveTime);

// A worker-only agent's channels to the servers: as node_channel_arguments(), with a
// keepalive every kAgentKeepaliveTime.
grpc::ChannelArguments agent_channel_arguments();

// The command-line client: backoff 50 ms growing to 500 ms. Channels with distinct `index`
// get connections of their own.
grpc::ChannelArguments client_channel_arguments(int index);

// The server's side of every connection: it accepts the clients' frequent pings (never
// answering them with GOAWAY "too_many_pings"), pings its clients itself every
// kServerKeepaliveTime so that the streams of a client that vanished are ended, and drops a
// connection whose handshake is not done in 2 x kAgentConnectTimeout.
void add_server_connection_arguments(grpc::ServerBuilder& builder);

}  // namespace nomad::transport
