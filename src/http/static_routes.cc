// The dashboard's own files (web/, embedded in the binary), and JSON 404s for everything else.

#include "http/errors.h"
#include "http/http_server.h"
#include "web/assets.h"

namespace nomad::http {

void HttpServer::add_static_routes() {
  route(
      "GET", "*",
      [](const Request& req, Response& res) {
        const web::Asset* asset = nullptr;
        if (!req.path.starts_with("/api/") && !req.path.starts_with("/health/")) {
          asset = web::find_asset(req.path);
        }
        if (!asset) return reply_error(res, 404, default_error_message(404));
        res.set_content(std::string(asset->body.data(), asset->body.size()),
                        std::string(asset->content_type));
      },
      Run::kInline);
}

}  // namespace nomad::http
