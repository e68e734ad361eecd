#pragma once

// Where gRPC's own log lines go. gRPC writes them to stderr in a format of its own, e.g. one
// "Handshake failed" line per refused TLS connection.

namespace nomad::transport {

// A server logs them through spdlog, with its own lines: errors as warnings (a peer's failed
// handshake is not the node's error), the rest at debug level. Protobuf's own log lines
// ("[libprotobuf ERROR ...]", which input from clients can cause) go the same way, under the
// same rate limit: ten lines per place in the code every ten seconds, then a count.
void route_grpc_logs_to_spdlog();

// The CLI drops them: every failure reaches the user as one message of ours, with a hint.
// GRPC_VERBOSITY in the environment keeps gRPC's own lines, for debugging.
void quiet_grpc_logs();

}  // namespace nomad::transport
