// GET /metrics: the process's metrics for Prometheus. Rendered on the worker pool: collectors
// read /proc and take the job store's lock, which an I/O thread must not wait for.

#include "http/http_server.h"
#include "metrics/registry.h"

namespace nomad::http {

void HttpServer::add_metrics_routes() {
  route(
      "GET", kMetricsPath,
      [](const Request&, Response& res) {
        res.set_content(metrics::default_registry().render(), std::string(metrics::kContentType));
      },
      Run::kWorker);
}

}  // namespace nomad::http
