#pragma once

// A node's figures that are state rather than events, read at every scrape of GET /metrics:
// Raft's term, role, indexes and (on the leader) each peer's lag from the node's published
// view; jobs by status and the pending queue from the applied state; the worker's slots and
// running attempts; the build. Events (proposals, fsyncs, finished jobs, requests) are counted
// where they happen (node/, storage/, jobs/, transport/, http/).

#include <string>

#include "metrics/registry.h"
#include "node/node.h"
#include "worker/worker.h"

namespace nomad::server {

// Collects from `node` and `worker` until the handle goes (before them).
[[nodiscard]] metrics::CollectorHandle add_node_collector(metrics::Registry& registry,
                                                          node::Node& node, worker::Worker& worker);

}  // namespace nomad::server
