#include "cli/config_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

// Header-only: the binary then needs no TOML library at run time.
#include <toml++/toml.h>

namespace nomad::cli {
namespace {

// Keys that name an option of `server` but make no sense inside the file.
bool command_line_only(const std::string& key) {
  return key == "config" || key == "check-config" || key == "help";
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1] ? 1 : 0)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The server flag closest to `key` ("" when none is close): node_id -> node-id, prot -> port.
std::string closest_flag(const std::string& key, const CLI::App& server) {
  std::string underscores_as_dashes = key;
  std::replace(underscores_as_dashes.begin(), underscores_as_dashes.end(), '_', '-');
  std::string best;
  size_t best_distance = std::max<size_t>(2, key.size() / 3) + 1;
  for (const CLI::Option* opt : server.get_options()) {
    const std::string name = opt->get_lnames().empty() ? "" : opt->get_lnames().front();
    if (name.empty() || command_line_only(name)) continue;
    size_t d = std::min(edit_distance(key, name), edit_distance(underscores_as_dashes, name));
    if (d < best_distance) {
      best_distance = d;
      best = name;
    }
  }
  return best;
}

std::string type_of(const toml::node& value) {
  switch (value.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "a whole number";
    case toml::node_type::floating_point:
      return "a decimal number";
    case toml::node_type::boolean:
      return "true or false";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    default:
      return "a date or time";
  }
}

// What the option takes, written as the file should say it, e.g. `port = 50051`.
std::string example(const std::string& key, const CLI::Option& opt, bool flag, bool integer) {
  if (flag) return key + " = true";
  std::string value = opt.get_default_str();
  if (integer) return key + " = " + (value.empty() ? "1" : value);
  return key + " = \"" + (value.empty() ? "..." : value) + "\"";
}

}  // namespace

Status apply_config_file(const std::string& path, CLI::App* server) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return Status::error("--config " + path + ": is a directory; give the TOML file in it");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::error("--config " + path + ": cannot read it (" + std::strerror(errno) +
                         "); check the path and that this user may read the file");
  }
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return Status::error("--config " + path + ": cannot read it (" + std::strerror(errno) + ")");
  }

  toml::table table;
  try {
    table = toml::parse(text.str(), path);
  } catch (const toml::parse_error& e) {
    std::string what(e.description());
    std::string hint = what.find("cannot redefine existing") != std::string::npos
                           ? "; a key is given twice: keep one"
                           : "; the file must be TOML (key = value, strings in double quotes)";
    return Status::error(path + ":" + std::to_string(e.source().begin.line) + ":" +
                         std::to_string(e.source().begin.column) + ": " + what + hint);
  }

  for (auto&& [toml_key, value] : table) {
    const std::string key(toml_key.str());
    const std::string where = path + ":" + std::to_string(value.source().begin.line) + ": ";
    if (command_line_only(key)) {
      return Status::error(where + "'" + key +
                           "' belongs on the command line only; remove it from the file");
    }
    CLI::Option* opt = server->get_option_no_throw("--" + key);
    if (opt == nullptr && value.is_table()) {
      return Status::error(where + "[" + key + "] (or a dotted key " + key +
                           ".x): the file has no sections; write every key = value at the top, "
                           "before any [section] line");
    }
    if (opt == nullptr) {
      std::string near = closest_flag(key, *server);
      return Status::error(where + "unknown key '" + key + "': not a flag of nomad-lite server" +
                           (near.empty() ? "" : " (did you mean '" + near + "'?)") +
                           "; the keys are the long flags of nomad-lite server --help without "
                           "the leading --");
    }
    // A repeatable flag (label) takes an array of strings: label = ["gpu=true", "zone=eu-1"].
    if (opt->get_items_expected_max() > 1 && value.is_array()) {
      if (opt->count() > 0) continue;  // the command line gave it: the flag wins
      for (auto&& item : *value.as_array()) {
        if (!item.is_string() || item.as_string()->get().find('\0') != std::string::npos) {
          return Status::error(where + "'" + key +
                               "' holds something other than strings: write it as " + key +
                               " = [\"a=b\", \"c=d\"]");
        }
        opt->add_result(item.as_string()->get());
      }
      opt->run_callback();
      continue;
    }
    const bool flag = opt->get_expected_min() == 0;
    const std::string type = opt->get_type_name();
    const bool integer = !flag && (type == "INT" || type == "UINT");
    const bool right_type = flag      ? value.is_boolean()
                            : integer ? value.is_integer()
                                      : value.is_string();
    if (!right_type) {
      return Status::error(where + "'" + key + "' is " + type_of(value) + ", but it takes " +
                           (flag      ? "true or false"
                            : integer ? "a whole number"
                                      : "a string in double quotes") +
                           ": write it as " + example(key, *opt, flag, integer));
    }
    if (type == "UINT" && value.as_integer() && value.as_integer()->get() < 0) {
      return Status::error(where + "'" + key + "': " + std::to_string(value.as_integer()->get()) +
                           " is out of range for --" + key + " (it takes 0 or more)");
    }
    if (value.is_string() && value.as_string()->get().find('\0') != std::string::npos) {
      return Status::error(where + "'" + key + "' holds a NUL character (\\u0000); remove it");
    }
    if (opt->count() > 0) continue;  // the command line gave it: the flag wins
    std::string given = flag      ? (value.as_boolean()->get() ? "true" : "false")
                        : integer ? std::to_string(value.as_integer()->get())
                                  : value.as_string()->get();
    try {
      opt->add_result(flag ? opt->get_flag_value("--" + key, given) : given);
      opt->run_callback();
    } catch (const CLI::ParseError&) {
      return Status::error(where + "'" + key + "': " + given + " is out of range for --" + key);
    }
  }
  return Status::ok();
}

}  // namespace nomad::cli
