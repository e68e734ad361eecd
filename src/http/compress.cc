#include "http/compress.h"

#include <zlib.h>

namespace nomad::http {
namespace {

bool compressible(const std::string& type) {
  if (type.starts_with("text/event-stream")) return false;
  return type.starts_with("text/") || type.starts_with("application/json") ||
         type.starts_with("application/javascript") || type.starts_with("image/svg+xml") ||
         type.starts_with("application/xml");
}

bool accepts_gzip(const std::string& accept_encoding) {
  size_t pos = 0;
  while (pos < accept_encoding.size()) {
    size_t comma = accept_encoding.find(',', pos);
    std::string one = accept_encoding.substr(pos, comma == std::string::npos ? comma : comma - pos);
    size_t start = one.find_first_not_of(" \t");
    one = start == std::string::npos ? "" : one.substr(start);
    if (one.starts_with("gzip"))
      return one.find("q=0") == std::string::npos || one.find("q=0.") != std::string::npos;
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return false;
}

bool gzip(const std::string& in, std::string* out) {
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return false;
  }
  out->resize(deflateBound(&z, in.size()));
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out->data());
  z.avail_out = static_cast<uInt>(out->size());
  int rc = deflate(&z, Z_FINISH);
  out->resize(z.total_out);
  deflateEnd(&z);
  return rc == Z_STREAM_END;
}

}  // namespace

void compress_if_accepted(const Request& req, Response& res) {
  if (res.stream || res.body.empty() || res.has_header("Content-Encoding")) return;
  if (!compressible(res.get_header_value("Content-Type"))) return;
  if (!accepts_gzip(req.get_header_value("Accept-Encoding"))) return;
  std::string packed;
  if (!gzip(res.body, &packed)) return;
  res.body = std::move(packed);
  res.set_header("Content-Encoding", "gzip");
}

}  // namespace nomad::http
