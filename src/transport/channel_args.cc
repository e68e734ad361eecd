#include "transport/channel_args.h"

namespace nomad::transport {
namespace {

int ms(std::chrono::milliseconds d) { return static_cast<int>(d.count()); }

// Keepalive pings on every connection, with or without calls on it, as often as they are
// due. In gRPC 1.51 GRPC_ARG_KEEPALIVE_TIMEOUT_MS also becomes the socket's TCP_USER_TIMEOUT.
void add_keepalive(grpc::ChannelArguments& args, std::chrono::milliseconds every = kKeepaliveTime) {
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, ms(every));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, ms(kKeepaliveTimeout));
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);  // 0: no limit
}

// gRPC gives a connection attempt (TCP, TLS and HTTP/2 handshakes) max(GRPC_ARG_MIN_RECONNECT_
// BACKOFF_MS, the current backoff), then dials again after the backoff. Its default of 20 s
// would let one SYN dropped by a partition hold the channel for 20 s after the partition
// healed; a limit as short as the backoff (a few hundred ms) abandons every TLS handshake
// that a loaded server needs longer for, so under load no connection ever comes back (seen:
// three TLS servers on 2 cores with hundreds of agents connecting lost their peers for good
// and elected leaders every few seconds). So attempts get `connect_timeout`, while the redial
// after a refused or failed attempt starts at `min` and grows to `max`.
void set_backoff(grpc::ChannelArguments& args, std::chrono::milliseconds min,
                 std::chrono::milliseconds max,
                 std::chrono::milliseconds connect_timeout = kConnectTimeout) {
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, ms(min));
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, ms(connect_timeout));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, ms(max));
}

}  // namespace

grpc::ChannelArguments peer_channel_arguments() {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, static_cast<int>(kMaxNodeMessageBytes));
  args.SetInt(GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, static_cast<int>(kMaxNodeMessageBytes));
  // Failover time depends on how fast a peer that restarted or came back is reached.
  set_backoff(args, std::chrono::milliseconds(50), std::chrono::milliseconds(300));
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  add_keepalive(args);
  return args;
}

grpc::ChannelArguments node_channel_arguments(std::chrono::milliseconds keepalive) {
  grpc::ChannelArguments args;
  // gRPC's default backoff grows to two minutes, and meanwhile every call would fail at once.
  set_backoff(args, std::chrono::milliseconds(100), std::chrono::milliseconds(300));
  args.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, static_cast<int>(kMaxNodeMessageBytes));
  args.SetInt(GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, static_cast<int>(kMaxNodeMessageBytes));
  add_keepalive(args, keepalive);
  return args;
}

grpc::ChannelArguments agent_channel_arguments() {
  grpc::ChannelArguments args = node_channel_arguments(kAgentKeepaliveTime);
  // A fleet of agents reconnects at once when the leader changes or a server restarts, and
  // with TLS each connection costs the server a handshake: agents redial from 1 s (gRPC adds
  // 20% jitter) and give an attempt kAgentConnectTimeout. A lost connection costs an agent
  // seconds, not the cluster its leader.
  set_backoff(args, std::chrono::milliseconds(1000), kAgentConnectTimeout, kAgentConnectTimeout);
  return args;
}

grpc::ChannelArguments client_channel_arguments(int index) {
  grpc::ChannelArguments args;
  set_backoff(args, std::chrono::milliseconds(50), std::chrono::milliseconds(500));
  args.SetInt("nomad.channel_index", index);  // distinct arguments: a connection of its own
  args.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, static_cast<int>(kMaxNodeMessageBytes));
  args.SetInt(GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, static_cast<int>(kMaxClientRequestBytes));
  add_keepalive(args);
  return args;
}

void add_server_connection_arguments(grpc::ServerBuilder& builder) {
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, ms(kServerKeepaliveTime));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, ms(kKeepaliveTimeout));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // Clients ping every kKeepaliveTime, calls or not; a ping sooner than this would be a
  // "strike", and with no limit on strikes no client is ever sent away for pinging.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             ms(kKeepaliveTime) / 2);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  // A client that gave up on its handshake does not tell the server: gRPC's default of 120 s
  // would keep each abandoned handshake's socket that long (a reconnecting fleet of agents
  // ran a server out of file descriptors). Twice an agent's connect timeout.
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, 2 * ms(kAgentConnectTimeout));
}

}  // namespace nomad::transport
