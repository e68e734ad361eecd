#pragma once

// A development PKI in one directory: a CA, a certificate per node, a client certificate and
// API tokens, so that a local cluster can run with mutual TLS without an operator's CA. The
// CA's private key sits next to the certificates, which is why this is for development only.

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace nomad::tls {

struct DevPkiOptions {
  std::string dir;  // created with mode 0700 if missing (its parents as the umask allows)
  int nodes = 3;    // node-1 .. node-<nodes>; 1 to 99
  int agents = 0;   // agent-1 .. agent-<agents> (worker-only agents); 0 to 999
  // Extra names every node certificate carries, so that nodes can be reached by more than
  // localhost: an entry that parses as an IPv4/IPv6 address ("10.0.0.5", "fd00::1" or
  // "[fd00::1]") becomes an IP SAN, anything else a DNS SAN (letters, digits, '-', '.', '_',
  // '*'; at most 253 characters).
  std::vector<std::string> hosts;
  bool force = false;    // replace existing files instead of refusing
  int valid_days = 825;  // for the CA and every certificate; 1 to 36500
  // --add-node ID: instead of a new PKI, one more node certificate from the CA already in
  // `dir` (ca.pem, ca-key.pem), written as node-<ID>.pem and node-<ID>-key.pem into `out`
  // (default `dir`), for a node that joins a running cluster.
  uint64_t add_node = 0;
  std::string out;
};

// Names of the files written, relative to DevPkiOptions::dir, for callers that print them or
// point flags at them.
inline constexpr const char* kCaCertFile = "ca.pem";
inline constexpr const char* kCaKeyFile = "ca-key.pem";
inline constexpr const char* kClientCertFile = "client.pem";
inline constexpr const char* kClientKeyFile = "client-key.pem";
inline constexpr const char* kTokensFile = "tokens";
std::string node_cert_file(int node);    // "node-<node>.pem"
std::string node_key_file(int node);     // "node-<node>-key.pem"
std::string agent_cert_file(int agent);  // "agent-<agent>.pem"
std::string agent_key_file(int agent);   // "agent-<agent>-key.pem"

// Writes into options.dir (all keys EC P-256, certificates signed with SHA-256, PEM):
//   ca.pem, ca-key.pem          self-signed CA "nomad-lite development CA"
//   node-<i>.pem, -key.pem      "nomad-lite node <i>", SAN urn:nomad-lite:node:<i>, localhost,
//                               127.0.0.1, ::1 and options.hosts; serverAuth and clientAuth
//   agent-<k>.pem, -key.pem     "nomad-lite agent <k>", SAN urn:nomad-lite:agent:<k> and the
//                               node certificates' host names; serverAuth (it serves its jobs'
//                               output to servers) and clientAuth
//   client.pem, client-key.pem  "nomad-lite client", SAN urn:nomad-lite:client; clientAuth
//   tokens                      "operator|submit|read <64 hex digits>" lines, '#' comments
// Private keys (PKCS#8, unencrypted) and tokens are 0600 from the moment they exist,
// certificates 0644. Everything is generated and written to temporary names (fsynced) before
// any file is moved into place, so no file is ever seen half-written and a failure until then
// leaves the directory as it was. (With force, a rename failing midway could leave a mix.)
//
// Without options.force, nothing is written if any of these files exists (the error names it:
// silently replacing a CA would invalidate every certificate already handed out). Errors name
// the `tls init` flag at fault (--nodes, --hosts, --force) and say what to do; they carry no
// "tls init:" prefix, which the caller adds.
Status init_dev_pki(const DevPkiOptions& options);

// options.add_node: node-<add_node>.pem and its key, signed by the CA in options.dir, with the
// same names as init_dev_pki gives (options.hosts added), into options.out (or options.dir).
// Refuses to replace existing files without options.force. Errors name the file at fault.
Status add_node_certificate(const DevPkiOptions& options);

}  // namespace nomad::tls
