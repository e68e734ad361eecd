// libFuzzer target: arbitrary bytes as nomad-lite's command line, split into words at NUL
// bytes when the input has any and at newlines otherwise. parse_args is the real parser of
// main(); it does no I/O beyond reading named PEM files, never exits and starts nothing. Each
// line must give a command to run, help text, or one line of error with exit code 2.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli/args.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // The same input gives the same result whatever the environment holds.
  for (const char* name : {"NOMAD_LITE_ADDR", "NOMAD_LITE_TOKEN", "NOMAD_LITE_CACERT",
                           "NOMAD_LITE_CLIENT_CERT", "NOMAD_LITE_CLIENT_KEY"}) {
    unsetenv(name);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  char separator = text.find('\0') != std::string::npos ? '\0' : '\n';
  std::vector<std::string> args;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(separator, start);
    if (end == std::string::npos) end = text.size();
    args.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  for (const std::string& arg : args) {
    // --ca-cert and friends read the file they name: a device or a pipe could block forever.
    if (arg.find("/dev") != std::string::npos || arg.find("/proc") != std::string::npos ||
        arg.find("/sys") != std::string::npos) {
      return 0;
    }
  }

  nomad::cli::ParsedArgs parsed = nomad::cli::parse_args(args);
  if (parsed.invocation) {
    FUZZ_CHECK(parsed.exit_code == 0 && parsed.error.empty(), "a command to run has no error");
  } else if (parsed.exit_code == 0) {
    FUZZ_CHECK(!parsed.out.empty(), "help has text");
  } else {
    FUZZ_CHECK(parsed.exit_code == 2, "a usage error exits with 2");
    FUZZ_CHECK(parsed.error.rfind("nomad-lite: ", 0) == 0, "an error names the program");
    FUZZ_CHECK(parsed.error.find('\n') == std::string::npos, "an error is one line");
  }
  return 0;
}
