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

# ctest -j2 starts tests in the order they were added until it has timings of its own (a fresh
# clone has none), so the longest tests would start last and run alone at the end. COST (seconds
# measured with -j2) makes ctest start them first.
function(nomad_start_long_tests_first)
  foreach(test_and_cost cluster-and-jobs-with-tls-and-tokens:60 raft-sim-5-nodes:24
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
  foreach(target nomad_transport nomad_api_grpc nomad_http nomad_server nomad_cli)
    if(TARGET ${target})
      target_precompile_headers(${target} PRIVATE <grpcpp/grpcpp.h> <nlohmann/json.hpp>
        <proto/nomad_lite.grpc.pb.h>)
    endif()
  endforeach()
endfunction()

cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL nomad_precompile_server_headers)
