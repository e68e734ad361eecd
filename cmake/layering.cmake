# The folder dependency rules, enforced by the build. Each library compiles with one private
# include directory of its own, a "view" in the build tree holding symbolic links to the source
# folders it may include (build/include-views/nomad_jobs/jobs -> src/jobs, ...); no library
# exports src/, so an #include of any other folder fails to compile ("No such file"). A view
# lists the folders a library's headers reach, its own included. Generated protobuf headers come
# with the library linked: nomad_messages (messages) or nomad_proto (gRPC services too).
#
# Test and tool targets (anything not listed here) see the whole of src/.
# tests/layering/check_layering.py proves the rules hold (ctest: layering-refuses-forbidden-includes).

set(NOMAD_LAYERS
  "nomad_raft: raft"
  "nomad_common: common"
  "nomad_metrics: metrics common"
  "nomad_web: web"
  "nomad_tls: tls common metrics"
  "nomad_storage: storage common raft metrics"
  "nomad_jobs: jobs common raft metrics"
  "nomad_worker: worker jobs common raft metrics"
  "nomad_transport: transport common raft metrics"
  "nomad_api: api jobs common raft metrics"
  "nomad_api_grpc: api transport tls jobs common raft metrics"
  "nomad_http_wire: http common"
  "nomad_http: http api transport web jobs common raft metrics"
  "nomad_node: node storage jobs common raft metrics"
  "nomad_server: server node api http storage transport worker jobs tls web common raft metrics"
  "nomad_cli: cli server node api transport worker jobs tls storage common raft metrics")

# What a library must not include even from what its view holds: the consensus core does no I/O
# (its files, threads and clocks belong to the node), and the client API's service reaches the
# cluster only through api::ClusterPort (no gRPC).
set(NOMAD_RAFT_FORBIDDEN
  "<(fstream|iostream|istream|ostream|sstream|cstdio|stdio\\.h|thread|mutex|condition_variable|future|chrono|filesystem|random|unistd\\.h|fcntl\\.h|sys/[^>]*|netinet/[^>]*|arpa/[^>]*|spdlog/[^>]*|grpc[^>]*)>")
set(NOMAD_API_FORBIDDEN "<grpc[^>]*>|\"(node|worker|transport|http|server)/")

set(NOMAD_VIEWS_DIR ${CMAKE_BINARY_DIR}/include-views)

function(nomad_give_view target)
  set(view ${NOMAD_VIEWS_DIR}/${target})
  file(REMOVE_RECURSE ${view})
  file(MAKE_DIRECTORY ${view})
  foreach(folder IN LISTS ARGN)
    file(CREATE_LINK ${CMAKE_SOURCE_DIR}/src/${folder} ${view}/${folder} SYMBOLIC)
  endforeach()
  target_include_directories(${target} PRIVATE ${view})
endfunction()

# Fails the build of `target` while any of `files` has an #include matching `forbidden`.
function(nomad_forbid_includes target forbidden)
  set(stamp ${CMAKE_BINARY_DIR}/include-checks/${target}.ok)
  file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/include-checks)
  add_custom_command(OUTPUT ${stamp}
    COMMAND ${CMAKE_COMMAND} "-DFILES=${ARGN}" "-DFORBIDDEN=${forbidden}" -DSTAMP=${stamp}
      -DWHAT=${target} -P ${CMAKE_SOURCE_DIR}/cmake/check_includes.cmake
    DEPENDS ${ARGN} ${CMAKE_SOURCE_DIR}/cmake/check_includes.cmake
    COMMENT "Checking the includes of ${target}" VERBATIM)
  add_custom_target(${target}-include-check DEPENDS ${stamp})
  add_dependencies(${target} ${target}-include-check)
endfunction()

foreach(layer IN LISTS NOMAD_LAYERS)
  string(REPLACE ":" ";" parts "${layer}")
  list(GET parts 0 target)
  list(GET parts 1 folders)
  string(STRIP "${folders}" folders)
  string(REPLACE " " ";" folders "${folders}")
  nomad_give_view(${target} ${folders})
  list(APPEND NOMAD_LAYERED_TARGETS ${target})
endforeach()

file(GLOB NOMAD_RAFT_FILES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/raft/*)
nomad_forbid_includes(nomad_raft "${NOMAD_RAFT_FORBIDDEN}" ${NOMAD_RAFT_FILES})
file(GLOB NOMAD_API_SERVICE_FILES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/api/service.*
  ${CMAKE_SOURCE_DIR}/src/api/cluster_port.h ${CMAKE_SOURCE_DIR}/src/api/job_changes.*)
nomad_forbid_includes(nomad_api "${NOMAD_API_FORBIDDEN}" ${NOMAD_API_SERVICE_FILES})

# Every other target compiled here (tests, tools, executables) sees all of src/. Run at the end
# of the top directory, when every target exists.
function(nomad_give_src_to_the_rest)
  get_property(targets DIRECTORY ${CMAKE_SOURCE_DIR} PROPERTY BUILDSYSTEM_TARGETS)
  foreach(target IN LISTS targets)
    get_target_property(type ${target} TYPE)
    if(target IN_LIST NOMAD_LAYERED_TARGETS OR type STREQUAL "UTILITY" OR
       type STREQUAL "INTERFACE_LIBRARY")
      continue()
    endif()
    target_include_directories(${target} PRIVATE ${CMAKE_SOURCE_DIR}/src)
  endforeach()
endfunction()
cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL nomad_give_src_to_the_rest)

add_test(NAME layering-refuses-forbidden-includes
  COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/layering/check_layering.py
    --build-dir ${CMAKE_BINARY_DIR} --source-dir ${CMAKE_SOURCE_DIR})
