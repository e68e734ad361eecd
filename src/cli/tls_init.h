#pragma once

// `nomad-lite tls init DIR`: the files for a cluster with TLS and tokens, and how to use them.

#include <ostream>

#include "tls/dev_pki.h"

namespace nomad::cli {

// Writes the files (tls::init_dev_pki) and prints what was made and the commands that start a
// protected cluster with them. Returns the exit code: 0, or 1 with the error on `err`.
int run_tls_init(const tls::DevPkiOptions& options, std::ostream& out, std::ostream& err);

}  // namespace nomad::cli
