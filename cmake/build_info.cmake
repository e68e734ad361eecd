# What `nomad-lite version` prints about the build, fixed when CMake configures: the project
# version, the git commit (`git describe --always --dirty`; empty outside a git checkout, such as
# a Docker build without .git) and the build type.
find_package(Git QUIET)
set(NOMAD_GIT_COMMIT "")
if(GIT_FOUND AND EXISTS ${CMAKE_SOURCE_DIR}/.git)
  execute_process(COMMAND ${GIT_EXECUTABLE} describe --always --dirty
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
    OUTPUT_VARIABLE NOMAD_GIT_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE NOMAD_GIT_RESULT ERROR_QUIET)
  if(NOT NOMAD_GIT_RESULT EQUAL 0)
    set(NOMAD_GIT_COMMIT "")
  endif()
endif()
configure_file(${CMAKE_SOURCE_DIR}/cmake/build_info.cc.in
  ${CMAKE_BINARY_DIR}/generated/build_info.cc @ONLY)
target_sources(nomad_common PRIVATE ${CMAKE_BINARY_DIR}/generated/build_info.cc)
# Apart from nomad_common's unity batches: a new commit then recompiles only this file.
set_source_files_properties(${CMAKE_BINARY_DIR}/generated/build_info.cc PROPERTIES
  SKIP_UNITY_BUILD_INCLUSION ON)
