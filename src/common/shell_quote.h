#pragma once

// Joins command words so that `/bin/sh -c` sees exactly those words: `job submit -- sh -c
// 'echo a; echo b'` must run `sh -c 'echo a; echo b'`, not `sh -c echo a; echo b`.

#include <string>
#include <vector>

namespace nomad {

// A word made only of safe characters stays as is; any other is wrapped in single quotes
// (a single quote inside becomes '\'').
std::string shell_quote(const std::string& word);
std::string shell_join(const std::vector<std::string>& words);

}  // namespace nomad
