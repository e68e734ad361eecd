#include "tls/dev_pki.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "tls/openssl_util.h"

namespace nomad::tls {
namespace {

constexpr int kMaxNodes = 99;
constexpr int kMaxAgents = 999;
constexpr uint64_t kMaxAddedNode = 999'999;  // ids of nodes added later
constexpr int kMaxValidDays = 36500;
// Certificates start a few minutes in the past so that a node whose clock is slightly behind
// the one that ran `tls init` does not reject them as not yet valid.
constexpr long kBackdateSeconds = 5 * 60;
constexpr size_t kTokenBytes = 32;

// One subjectAltName: text for DNS and URI names, the raw 4 or 16 address bytes for IPs.
struct AltName {
  int type = GEN_DNS;
  std::string value;
  bool operator==(const AltName&) const = default;
};

// A fixed extension written in OpenSSL's config syntax ("critical,CA:TRUE"); never built from
// user input, which only reaches the subjectAltName, built field by field.
struct Extension {
  int nid;
  const char* value;
};

struct Issued {
  PkeyPtr key;
  X509Ptr cert;
};

// A file to write: its name in the PKI directory, its contents and its mode.
struct OutputFile {
  std::string name;
  std::string contents;
  mode_t mode;
};

Status openssl_failure(const std::string& what, const char* call) {
  return Status::error("cannot " + what + " (" + call + " failed: " + openssl_errors() + ")");
}

Status errno_failure(const std::string& what, const std::string& path) {
  return Status::error("cannot " + what + " " + path + ": " + std::strerror(errno));
}

bool is_dns_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '*';
}

Status parse_host(const std::string& entry, AltName* out) {
  std::string text = entry;
  bool bracketed = text.size() >= 2 && text.front() == '[' && text.back() == ']';
  if (bracketed) text = text.substr(1, text.size() - 2);
  unsigned char address[16];
  if (!bracketed && inet_pton(AF_INET, text.c_str(), address) == 1) {
    *out = {GEN_IPADD, std::string(reinterpret_cast<char*>(address), 4)};
    return Status::ok();
  }
  if (inet_pton(AF_INET6, text.c_str(), address) == 1) {
    *out = {GEN_IPADD, std::string(reinterpret_cast<char*>(address), 16)};
    return Status::ok();
  }
  bool dns = !bracketed && !text.empty() && text.size() <= 253;
  for (char c : text) dns = dns && is_dns_char(c);
  if (!dns) {
    return Status::error("--hosts: '" + entry +
                         "' is neither an IP address nor a DNS name (letters, digits, '-', '.'; "
                         "at most 253 characters)");
  }
  *out = {GEN_DNS, text};
  return Status::ok();
}

// The names every node certificate carries: its identity, loopback (what a local cluster
// dials) and the operator's extra hosts, without duplicates.
Status node_alt_names(int node, const std::vector<std::string>& hosts, std::vector<AltName>* out) {
  *out = {{GEN_URI, "urn:nomad-lite:node:" + std::to_string(node)},
          {GEN_DNS, "localhost"},
          {GEN_IPADD, std::string("\x7f\x00\x00\x01", 4)},
          {GEN_IPADD, std::string(15, '\0') + '\x01'}};
  for (const std::string& host : hosts) {
    AltName name;
    if (Status s = parse_host(host, &name); !s) return s;
    bool seen = false;
    for (const AltName& existing : *out) seen = seen || existing == name;
    if (!seen) out->push_back(name);
  }
  return Status::ok();
}

Status add_alt_names(X509* cert, const std::vector<AltName>& names, const std::string& what) {
  GeneralNamesPtr general_names(sk_GENERAL_NAME_new_null());
  if (!general_names) return openssl_failure(what, "sk_GENERAL_NAME_new_null");
  for (const AltName& name : names) {
    GENERAL_NAME* general_name = GENERAL_NAME_new();
    if (!general_name) return openssl_failure(what, "GENERAL_NAME_new");
    ASN1_STRING* value = name.type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
    if (!value || !ASN1_STRING_set(value, name.value.data(), static_cast<int>(name.value.size()))) {
      ASN1_STRING_free(value);
      GENERAL_NAME_free(general_name);
      return openssl_failure(what, "ASN1_STRING_set");
    }
    GENERAL_NAME_set0_value(general_name, name.type, value);
    if (!sk_GENERAL_NAME_push(general_names.get(), general_name)) {
      GENERAL_NAME_free(general_name);
      return openssl_failure(what, "sk_GENERAL_NAME_push");
    }
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, general_names.get(), 0, X509V3_ADD_DEFAULT) !=
      1) {
    return openssl_failure(what, "X509_add1_ext_i2d(subjectAltName)");
  }
  return Status::ok();
}

// Issues a certificate for a fresh P-256 key: self-signed when `issuer` is null, else signed
// by issuer->key.
Status issue(const std::string& common_name, const Issued* issuer, int valid_days,
             const std::vector<Extension>& extensions, const std::vector<AltName>& alt_names,
             Issued* out) {
  const std::string what = "create the certificate for " + common_name;
  out->key.reset(EVP_EC_gen("P-256"));
  if (!out->key) return openssl_failure(what, "EVP_EC_gen(P-256)");
  out->cert.reset(X509_new());
  X509* cert = out->cert.get();
  if (!cert) return openssl_failure(what, "X509_new");
  if (!X509_set_version(cert, X509_VERSION_3)) return openssl_failure(what, "X509_set_version");

  // A random 128-bit serial (top bit set, so always exactly 128 bits): unique without a
  // counter to keep, and unpredictable.
  BignumPtr serial(BN_new());
  if (!serial || !BN_rand(serial.get(), 128, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY)) {
    return openssl_failure(what, "BN_rand");
  }
  if (!BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert))) {
    return openssl_failure(what, "BN_to_ASN1_INTEGER");
  }
  if (!X509_gmtime_adj(X509_getm_notBefore(cert), -kBackdateSeconds) ||
      !X509_time_adj_ex(X509_getm_notAfter(cert), valid_days, 0, nullptr)) {
    return openssl_failure(what, "X509_time_adj");
  }

  X509_NAME* subject = X509_get_subject_name(cert);
  if (!X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                  reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                                  -1, 0)) {
    return openssl_failure(what, "X509_NAME_add_entry_by_txt(CN)");
  }
  X509_NAME* issuer_name = issuer ? X509_get_subject_name(issuer->cert.get()) : subject;
  if (!X509_set_issuer_name(cert, issuer_name)) {
    return openssl_failure(what, "X509_set_issuer_name");
  }
  if (!X509_set_pubkey(cert, out->key.get())) return openssl_failure(what, "X509_set_pubkey");

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer->cert.get() : cert, cert, nullptr, nullptr, 0);
  for (const Extension& extension : extensions) {
    X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, extension.nid, extension.value));
    if (!ext) return openssl_failure(what, "X509V3_EXT_conf_nid");
    if (!X509_add_ext(cert, ext.get(), -1)) return openssl_failure(what, "X509_add_ext");
  }
  if (!alt_names.empty()) {
    if (Status s = add_alt_names(cert, alt_names, what); !s) return s;
  }

  EVP_PKEY* signing_key = issuer ? issuer->key.get() : out->key.get();
  if (X509_sign(cert, signing_key, EVP_sha256()) <= 0) return openssl_failure(what, "X509_sign");
  return Status::ok();
}

std::string bio_contents(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return size > 0 ? std::string(data, static_cast<size_t>(size)) : std::string();
}

// Appends "<name>.pem" (0644) and "<name>-key.pem" (PKCS#8, 0600) for `issued`.
Status add_pem_files(const std::string& name, const Issued& issued,
                     std::vector<OutputFile>* files) {
  BioPtr cert_bio(BIO_new(BIO_s_mem()));
  BioPtr key_bio(BIO_new(BIO_s_mem()));
  if (!cert_bio || !key_bio) return openssl_failure("encode " + name, "BIO_new");
  if (!PEM_write_bio_X509(cert_bio.get(), issued.cert.get())) {
    return openssl_failure("encode " + name + ".pem", "PEM_write_bio_X509");
  }
  if (!PEM_write_bio_PKCS8PrivateKey(key_bio.get(), issued.key.get(), nullptr, nullptr, 0, nullptr,
                                     nullptr)) {
    return openssl_failure("encode " + name + "-key.pem", "PEM_write_bio_PKCS8PrivateKey");
  }
  files->push_back({name + ".pem", bio_contents(cert_bio.get()), 0644});
  files->push_back({name + "-key.pem", bio_contents(key_bio.get()), 0600});
  return Status::ok();
}

Status tokens_file(std::string* out) {
  *out =
      "# nomad-lite API tokens, written by `nomad-lite tls init` (development only).\n"
      "# Format: one token per line: ROLE TOKEN; roles: metrics (GET /metrics only), read,\n"
      "# submit, operator.\n"
      "# Lines starting with '#' and blank lines are ignored. Anyone holding a token can act\n"
      "# with its role: keep this file private (mode 0600).\n";
  static const char kHex[] = "0123456789abcdef";
  for (const char* role : {"operator", "submit", "read", "metrics"}) {
    unsigned char bytes[kTokenBytes];
    if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
      return openssl_failure(std::string("generate the ") + role + " token", "RAND_bytes");
    }
    std::string token;
    for (unsigned char b : bytes) {
      token += kHex[b >> 4];
      token += kHex[b & 0xf];
    }
    *out += std::string(role) + " " + token + "\n";
  }
  return Status::ok();
}

// Everything init_dev_pki writes, generated in memory before any file is touched.
Status generate(const DevPkiOptions& options, std::vector<OutputFile>* files) {
  Issued ca;
  Status s = issue("nomad-lite development CA", nullptr, options.valid_days,
                   {{NID_basic_constraints, "critical,CA:TRUE"},
                    {NID_key_usage, "critical,keyCertSign,cRLSign"},
                    {NID_subject_key_identifier, "hash"}},
                   {}, &ca);
  if (!s || !(s = add_pem_files("ca", ca, files))) return s;

  const std::vector<Extension> leaf_extensions = {{NID_basic_constraints, "critical,CA:FALSE"},
                                                  {NID_key_usage, "critical,digitalSignature"},
                                                  {NID_subject_key_identifier, "hash"},
                                                  {NID_authority_key_identifier, "keyid:always"}};
  for (int node = 1; node <= options.nodes; ++node) {
    std::vector<AltName> alt_names;
    if (!(s = node_alt_names(node, options.hosts, &alt_names))) return s;
    std::vector<Extension> extensions = leaf_extensions;
    extensions.push_back({NID_ext_key_usage, "serverAuth,clientAuth"});
    Issued issued;
    s = issue("nomad-lite node " + std::to_string(node), &ca, options.valid_days, extensions,
              alt_names, &issued);
    if (!s || !(s = add_pem_files("node-" + std::to_string(node), issued, files))) return s;
  }

  for (int agent = 1; agent <= options.agents; ++agent) {
    std::vector<AltName> alt_names;
    if (!(s = node_alt_names(agent, options.hosts, &alt_names))) return s;
    alt_names.front().value = "urn:nomad-lite:agent:" + std::to_string(agent);
    std::vector<Extension> extensions = leaf_extensions;
    extensions.push_back({NID_ext_key_usage, "serverAuth,clientAuth"});
    Issued issued;
    s = issue("nomad-lite agent " + std::to_string(agent), &ca, options.valid_days, extensions,
              alt_names, &issued);
    if (!s || !(s = add_pem_files("agent-" + std::to_string(agent), issued, files))) return s;
  }

  std::vector<Extension> extensions = leaf_extensions;
  extensions.push_back({NID_ext_key_usage, "clientAuth"});
  Issued client;
  s = issue("nomad-lite client", &ca, options.valid_days, extensions,
            {{GEN_URI, "urn:nomad-lite:client"}}, &client);
  if (!s || !(s = add_pem_files("client", client, files))) return s;

  std::string tokens;
  if (!(s = tokens_file(&tokens))) return s;
  files->push_back({kTokensFile, tokens, 0600});
  return Status::ok();
}

// Creates `dir` with mode 0700 (its missing parents as the umask allows); an existing
// directory is used as it is.
Status prepare_directory(const std::string& dir) {
  struct stat st;
  if (stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::ok();
    return Status::error(dir + " exists and is not a directory; choose another directory");
  }
  std::filesystem::path path = std::filesystem::path(dir).lexically_normal();
  if (!path.has_filename()) path = path.parent_path();  // "a/b/" names "a/b"
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) {
    return Status::error("cannot create " + path.parent_path().string() + ": " + ec.message());
  }
  if (mkdir(path.c_str(), 0700) != 0) return errno_failure("create", dir);
  // Exactly 0700 whatever the umask: the directory holds the CA's private key.
  if (chmod(path.c_str(), 0700) != 0) return errno_failure("set the mode of", dir);
  return Status::ok();
}

Status refuse_existing(const std::string& dir, const std::vector<OutputFile>& files) {
  for (const OutputFile& file : files) {
    std::string path = dir + "/" + file.name;
    struct stat st;
    if (lstat(path.c_str(), &st) == 0) {
      return Status::error(path + " already exists; pass --force to replace every file in " + dir +
                           " (with a new CA, which no longer accepts certificates issued "
                           "before), or choose another directory");
    }
    if (errno != ENOENT) return errno_failure("check", path);
  }
  return Status::ok();
}

Status write_all(int fd, const std::string& contents) {
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::error(std::strerror(errno));
    done += static_cast<size_t>(n);
  }
  return Status::ok();
}

// Writes `file` to a fresh temporary name in `dir`. mkostemp creates it 0600 with O_EXCL, so a
// private key is never readable by others, not even for an instant; certificates are then
// opened up to their mode.
Status write_temporary(const std::string& dir, const OutputFile& file, std::string* temp_path) {
  std::string path = dir + "/." + file.name + ".XXXXXX";
  int fd = mkostemp(path.data(), O_CLOEXEC);
  if (fd < 0) return errno_failure("create a temporary file in", dir);
  *temp_path = path;
  Status s;
  if (fchmod(fd, file.mode) != 0) s = Status::error(std::strerror(errno));
  if (s) s = write_all(fd, file.contents);
  if (s && fsync(fd) != 0) s = Status::error(std::strerror(errno));
  if (close(fd) != 0 && s) s = Status::error(std::strerror(errno));
  if (!s) return Status::error("cannot write " + path + ": " + s.message());
  return Status::ok();
}

// Moves a written temporary file to `path`. Without `force` a hard link is used, which fails
// if `path` has appeared since refuse_existing() looked (rename would silently replace it).
Status move_into_place(const std::string& temp_path, const std::string& path, bool force) {
  if (force) {
    if (rename(temp_path.c_str(), path.c_str()) != 0) return errno_failure("replace", path);
    return Status::ok();
  }
  if (link(temp_path.c_str(), path.c_str()) != 0) {
    if (errno == EEXIST) {
      return Status::error(path + " appeared while writing; pass --force to replace it, or " +
                           "choose another directory");
    }
    return errno_failure("create", path);
  }
  unlink(temp_path.c_str());
  return Status::ok();
}

Status write_files(const std::string& dir, const std::vector<OutputFile>& files, bool force) {
  std::vector<std::string> temp_paths;
  std::vector<std::string> placed;
  Status s;
  for (const OutputFile& file : files) {
    std::string temp_path;
    s = write_temporary(dir, file, &temp_path);
    if (!temp_path.empty()) temp_paths.push_back(temp_path);
    if (!s) break;
  }
  for (size_t i = 0; s && i < files.size(); ++i) {
    std::string path = dir + "/" + files[i].name;
    s = move_into_place(temp_paths[i], path, force);
    if (s) placed.push_back(path);
  }
  if (!s) {
    for (const std::string& temp_path : temp_paths) unlink(temp_path.c_str());
    // A refused set must leave the directory as it was; replaced files cannot be restored.
    if (!force) {
      for (const std::string& path : placed) unlink(path.c_str());
    }
    return s;
  }
  int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return errno_failure("open", dir);
  int synced = fsync(dir_fd);
  close(dir_fd);
  if (synced != 0) return errno_failure("sync", dir);
  return Status::ok();
}

}  // namespace

Status add_node_certificate(const DevPkiOptions& options) {
  if (options.dir.empty()) return Status::error("no directory given; name the CA's directory");
  if (options.add_node == 0 || options.add_node > kMaxAddedNode) {
    return Status::error("--add-node: give a node id from 1 to " + std::to_string(kMaxAddedNode));
  }
  if (options.valid_days < 1 || options.valid_days > kMaxValidDays) {
    return Status::error("a validity of " + std::to_string(options.valid_days) +
                         " days is out of range; give 1 to " + std::to_string(kMaxValidDays));
  }
  const std::string ca_cert_path = options.dir + "/" + kCaCertFile;
  const std::string ca_key_path = options.dir + "/" + kCaKeyFile;
  Issued ca;
  {
    std::string cert_pem, key_pem;
    for (auto [path, out] : {std::pair{&ca_cert_path, &cert_pem}, {&ca_key_path, &key_pem}}) {
      std::error_code ec;
      if (!std::filesystem::exists(*path, ec)) {
        return Status::error(*path +
                             " does not exist: --add-node needs the directory where tls "
                             "init wrote the cluster's CA (ca.pem and ca-key.pem)");
      }
      FILE* f = fopen(path->c_str(), "r");
      if (!f) return errno_failure("read", *path);
      char buffer[4096];
      for (size_t n; (n = fread(buffer, 1, sizeof(buffer), f)) > 0;) out->append(buffer, n);
      fclose(f);
    }
    BioPtr cert_bio = read_bio(cert_pem), key_bio = read_bio(key_pem);
    ca.cert.reset(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
    if (!ca.cert) return Status::error(ca_cert_path + " is not a PEM certificate");
    ca.key.reset(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
    if (!ca.key) return Status::error(ca_key_path + " is not a PEM private key");
    if (X509_check_private_key(ca.cert.get(), ca.key.get()) != 1) {
      return Status::error(ca_key_path + " is not the key of " + ca_cert_path);
    }
  }
  ERR_clear_error();
  std::vector<AltName> alt_names;
  const int node = static_cast<int>(options.add_node);
  if (Status s = node_alt_names(node, options.hosts, &alt_names); !s) return s;
  std::vector<Extension> extensions = {{NID_basic_constraints, "critical,CA:FALSE"},
                                       {NID_key_usage, "critical,digitalSignature"},
                                       {NID_subject_key_identifier, "hash"},
                                       {NID_authority_key_identifier, "keyid:always"},
                                       {NID_ext_key_usage, "serverAuth,clientAuth"}};
  Issued issued;
  std::vector<OutputFile> files;
  Status s = issue("nomad-lite node " + std::to_string(node), &ca, options.valid_days, extensions,
                   alt_names, &issued);
  if (!s || !(s = add_pem_files("node-" + std::to_string(node), issued, &files))) return s;
  const std::string out = options.out.empty() ? options.dir : options.out;
  if (s = prepare_directory(out); !s) return s;
  if (!options.force) {
    if (s = refuse_existing(out, files); !s) return s;
  }
  return write_files(out, files, options.force);
}

std::string node_cert_file(int node) { return "node-" + std::to_string(node) + ".pem"; }
std::string node_key_file(int node) { return "node-" + std::to_string(node) + "-key.pem"; }
std::string agent_cert_file(int agent) { return "agent-" + std::to_string(agent) + ".pem"; }
std::string agent_key_file(int agent) { return "agent-" + std::to_string(agent) + "-key.pem"; }

Status init_dev_pki(const DevPkiOptions& options) {
  if (options.dir.empty()) {
    return Status::error("no directory given; name the directory to write to");
  }
  if (options.nodes < 1 || options.nodes > kMaxNodes) {
    return Status::error("--nodes: " + std::to_string(options.nodes) +
                         " is out of range; give a number of nodes from 1 to " +
                         std::to_string(kMaxNodes));
  }
  if (options.agents < 0 || options.agents > kMaxAgents) {
    return Status::error("--agents: " + std::to_string(options.agents) +
                         " is out of range; give a number of agent certificates from 0 to " +
                         std::to_string(kMaxAgents));
  }
  if (options.valid_days < 1 || options.valid_days > kMaxValidDays) {
    return Status::error("a validity of " + std::to_string(options.valid_days) +
                         " days is out of range; give 1 to " + std::to_string(kMaxValidDays));
  }
  // Checked before anything is generated so that a bad --hosts entry is reported as such.
  std::vector<AltName> alt_names;
  if (Status s = node_alt_names(1, options.hosts, &alt_names); !s) return s;

  ERR_clear_error();  // so that messages carry only this run's OpenSSL reasons
  std::vector<OutputFile> files;
  if (Status s = generate(options, &files); !s) return s;
  if (Status s = prepare_directory(options.dir); !s) return s;
  if (!options.force) {
    if (Status s = refuse_existing(options.dir, files); !s) return s;
  }
  return write_files(options.dir, files, options.force);
}

}  // namespace nomad::tls
