#pragma once

// gzip for answers to clients that accept it (text, JSON, scripts): the dashboard's files
// and large job lists are several times smaller. Streamed answers are sent as they are, so
// that nothing waits in a compressor's buffer.

#include "http/message.h"

namespace nomad::http {

void compress_if_accepted(const Request& req, Response& res);

}  // namespace nomad::http
