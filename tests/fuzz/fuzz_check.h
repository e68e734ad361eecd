#pragma once

// A property a fuzz target checks: when it does not hold, the input is a finding, so the
// target stops with a message and libFuzzer keeps the input as the reproducer.

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition, what)                                                       \
  do {                                                                                    \
    if (!(condition)) {                                                                   \
      std::fprintf(stderr, "%s:%d: property broken: %s (%s)\n", __FILE__, __LINE__, what, \
                   #condition);                                                           \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)

// UBSan's findings stop the run as ASan's do (the fuzz build's checks are recoverable, and
// would otherwise only print a line that nobody reads).
extern "C" const char* __ubsan_default_options() { return "halt_on_error=1:print_stacktrace=1"; }
