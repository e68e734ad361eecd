#pragma once

// An HTTP request and its answer as the routes see them, free of any server library: the
// connection layer (wire_server.cc) fills a Request and writes a Response.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace nomad::http {

struct CaseInsensitiveLess {
  bool operator()(std::string_view a, std::string_view b) const;
  using is_transparent = void;
};
using Headers = std::multimap<std::string, std::string, CaseInsensitiveLess>;
using QueryParams = std::multimap<std::string, std::string>;

struct Request {
  std::string method;  // "GET", as sent
  std::string target;  // "/api/jobs?limit=5"
  std::string path;    // "/api/jobs", percent-decoded
  QueryParams params;  // decoded
  Headers headers;
  std::string body;
  std::string remote_addr;           // the client's numeric address
  std::vector<std::string> matches;  // [0] the path, [1] a job id for /api/jobs/{id}...

  bool has_header(std::string_view name) const { return headers.find(name) != headers.end(); }
  // The first value of `name`, or "".
  std::string get_header_value(std::string_view name) const;
};

// A body produced over time (an event stream, followed output), sent in chunks. The
// connection calls start() once, then take() whenever `wake` has been called (from any
// thread) and after each chunk is written; cancel() when the client leaves or the server stops.
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  virtual void start(std::function<void()> wake) = 0;
  struct Piece {
    std::string data;
    bool ended = false;   // nothing follows `data`
    bool failed = false;  // ended early: the answer ends without its final chunk
  };
  // What is ready now; never waits.
  virtual Piece take() = 0;
  virtual void cancel() = 0;
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  std::shared_ptr<BodyStream> stream;  // set: the body is sent in chunks as it comes

  void set_header(const std::string& name, const std::string& value);
  bool has_header(std::string_view name) const { return headers.find(name) != headers.end(); }
  std::string get_header_value(std::string_view name) const;
  void set_content(std::string content, const std::string& content_type);
  void set_stream(std::shared_ptr<BodyStream> body, const std::string& content_type);
};

// Splits a request target into its decoded path and query parameters; false when the target
// is not an origin-form path ("/...").
bool parse_target(std::string_view target, std::string* path, QueryParams* params);

}  // namespace nomad::http
