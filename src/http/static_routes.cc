// The dashboard's own files (web/, embedded in the binary). Any other path gets a JSON 404.

#include "http/errors.h"
#include "http/http_server.h"
#include "web/assets.h"

namespace nomad::http {

void HttpServer::add_static_routes() {
  route(
      "GET", "{asset}",
      [](const Request& req, Response& res) {
        const web::Asset* asset = web::find_asset(req.path);  // the pattern matched: it is one
        if (!asset) return reply_error(res, 404, default_error_message(404));
        res.set_content(std::string(asset->body.data(), asset->body.size()),
                        std::string(asset->content_type));
      },
      Run::kInline);
}

}  // namespace nomad::http
