# What keeps `make test` short on a fresh clone with 2 cores. Run at the end of the top directory
# (cmake_language DEFER), so that it sees every target and test, wherever defined.

# The test executables' own sources (gtest cases, harnesses, clients) are compiled at -O0 in every
# build type: they compile 2 to 3 times faster than at -O2 and take more than half of the main
# build's CPU time otherwise. The code they test is in the libraries, which keep the build type's
# optimisation, and the assertions are the same (-DNDEBUG is untouched). Any target named *-tests
# is one of them.
function(nomad_compile_tests_at_o0)
  get_property(targets DIRECTORY ${CMAKE_SOURCE_DIR} PROPERTY BUILDSYSTEM_TARGETS)
  foreach(target IN LISTS targets)
    if(target MATCHES "-tests$")
      target_compile_options(${target} PRIVATE -O0)
    endif()
  endforeach()
endfunction()

# The test executables' sources are also compiled in unity batches (several files in one
# translation unit): gtest's and the project's headers are then parsed, and their templates
# instantiated, once per batch instead of once per file. jobs-tests' ten files took 56 s of CPU
# one by one and 12 s as one batch. The files of one target therefore share a namespace: a helper
# in a test file's anonymous namespace must not have the name (or the overloads) of another's in
# the same target. Files whose helpers would clash keep them in a namespace named after the file
# (`namespace wal_test {`), where their own tests find them first.
option(NOMAD_UNITY_TESTS "Compile each test executable's sources in unity batches" ON)

function(nomad_compile_tests_in_unity_batches)
  if(NOT NOMAD_UNITY_TESTS)
    return()
  endif()
  get_property(targets DIRECTORY ${CMAKE_SOURCE_DIR} PROPERTY BUILDSYSTEM_TARGETS)
  foreach(target IN LISTS targets)
    if(target MATCHES "-tests$")
      set_target_properties(${target} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 12)
    endif()
  endforeach()
endfunction()

# Executables whose tests are quick and CPU-bound (no cluster, no timers to wait for) are one
# ctest test each: run as one process per test, their 784 tests spent more on process starts and
# ctest's bookkeeping than on testing (about 50 s of the unit suite, against 10 s in one process
# per executable). --gtest_brief=1 prints only the tests that fail; a single test is run with
# e.g. build/raft-tests --gtest_filter='ElectionTest.*'.
function(nomad_add_fast_tests target)
  add_test(NAME ${target} COMMAND ${target} --gtest_brief=1)
endfunction()

# ctest -j2 starts tests in the order they were added until it has timings of its own (a fresh
# clone has none), so the longest tests would start last and run alone at the end. COST (seconds
# measured with -j2) makes ctest start them first.
function(nomad_start_long_tests_first)
  foreach(test_and_cost cluster-and-jobs-with-tls-and-tokens:35 raft-sim-5-nodes:24
          raft-sim-disk-full:9 raft-sim-3-nodes:7)
    string(REPLACE ":" ";" pair ${test_and_cost})
    list(GET pair 0 test_name)
    list(GET pair 1 cost)
    if(TEST ${test_name})
      set_tests_properties(${test_name} PROPERTIES COST ${cost})
    endif()
  endforeach()
endfunction()

cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL nomad_compile_tests_at_o0)
cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL nomad_start_long_tests_first)
cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL nomad_compile_tests_in_unity_batches)

# gRPC's, the generated API's and nlohmann/json's headers take 3 to 5 s of the compile of each of
# nomad_server's sources that includes them (most do); a precompiled header parses them once. Off
# by default under a compiler launcher such as ccache, which does not cache compiles that use a
# precompiled header unless configured for it.
if(CMAKE_CXX_COMPILER_LAUNCHER)
  set(nomad_pch_default OFF)
else()
  set(nomad_pch_default ON)
endif()
option(NOMAD_PCH "Precompile the gRPC and JSON headers for the gRPC libraries" ${nomad_pch_default})

function(nomad_precompile_server_headers)
  if(NOT NOMAD_PCH)
    return()
  endif()
  # The libraries that speak gRPC (cmake/layering.cmake): the others may not see its headers.
  # Making one costs about 20 s of CPU, as much as it saves in a library's few unity batches, so
  # the libraries compiled with the same flags share one (nomad_cli and nomad_api_grpc
  # nomad_transport's, nomad_server nomad_http's, whose cpp-httplib defines the others lack).
  foreach(target nomad_transport nomad_http)
    if(TARGET ${target})
      target_precompile_headers(${target} PRIVATE <grpcpp/grpcpp.h> <nlohmann/json.hpp>
        <proto/nomad_lite.grpc.pb.h>)
    endif()
  endforeach()
  foreach(user_and_donor nomad_api_grpc:nomad_transport nomad_cli:nomad_transport
          nomad_server:nomad_http)
    string(REPLACE ":" ";" pair ${user_and_donor})
    list(GET pair 0 user)
    list(GET pair 1 donor)
    if(TARGET ${user} AND TARGET ${donor})
      target_precompile_headers(${user} REUSE_FROM ${donor})
    endif()
  endforeach()
endfunction()

cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL nomad_precompile_server_headers)
