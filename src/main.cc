// nomad-lite: the server, the command-line client and the benchmark, in one binary.

#include "cli/cli.h"

int main(int argc, char** argv) { return nomad::cli::run_cli(argc, argv); }
