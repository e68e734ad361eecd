#pragma once

// Whether the client of a long response (an event stream, followed output) is still there
// while nothing is written to it. httplib 0.11 does not hand handlers the connection's socket,
// so the probe finds it among this process's descriptors by the connection's address pair.

#include <httplib.h>

namespace nomad::http {

class ConnectionProbe {
 public:
  // The probe of `req`'s connection; one that never reports a loss when its socket is not
  // found (the response then ends at its next failed write, as without a probe).
  static ConnectionProbe of(const httplib::Request& req);

  // The client closed or reset the connection.
  bool client_gone() const;
  bool found() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace nomad::http
