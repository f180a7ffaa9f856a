# Fuzz targets in the native test tree (included by tests/CMakeLists.txt).
#
#  fuzz_replay_<name>: the target linked with replay_main.cpp (any compiler, ASan + UBSan
#    from CHORUS_SANITIZE) runs its seed corpus, its regressions and the large inputs
#    generated below.
#  fuzz_run_<name> (label "fuzz", only when CHORUS_FUZZ_DIR names a build tree of the fuzz
#    preset): libFuzzer for CHORUS_FUZZ_SECONDS, seeded from the source tree; new inputs and
#    crash artifacts go to this build tree, never to the source tree.
include(${CMAKE_CURRENT_LIST_DIR}/targets.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/generate_inputs.cmake)

set(_chorus_fuzz_src ${CMAKE_CURRENT_LIST_DIR})
set(_chorus_fuzz_bin ${CMAKE_CURRENT_BINARY_DIR}/fuzz)
chorus_fuzz_generate_inputs(${_chorus_fuzz_bin}/generated)
math(EXPR _chorus_fuzz_timeout "${CHORUS_FUZZ_SECONDS} + 120")

foreach(name IN LISTS CHORUS_FUZZ_TARGETS)
  add_executable(${name}_replay ${_chorus_fuzz_src}/${name}_fuzz.cpp ${_chorus_fuzz_src}/replay_main.cpp)
  target_link_libraries(${name}_replay PRIVATE chorus_core)
  if(name STREQUAL "cluster_message")
    target_link_libraries(${name}_replay PRIVATE chorus_cluster)
  endif()
  target_include_directories(${name}_replay PRIVATE ${PROJECT_SOURCE_DIR}/server/tools)

  set(_seeds ${_chorus_fuzz_src}/corpus/${name} ${_chorus_fuzz_src}/regressions/${name})
  set(_inputs ${_seeds})
  if(IS_DIRECTORY ${_chorus_fuzz_bin}/generated/${name})
    list(APPEND _inputs ${_chorus_fuzz_bin}/generated/${name})
  endif()
  add_test(NAME fuzz_replay_${name} COMMAND ${name}_replay ${_inputs})
  set_tests_properties(fuzz_replay_${name} PROPERTIES LABELS "fuzz_replay")

  if(CHORUS_FUZZ_DIR)
    set(_scratch ${_chorus_fuzz_bin}/scratch/${name})
    set(_artifacts ${_chorus_fuzz_bin}/artifacts/${name})
    file(MAKE_DIRECTORY ${_scratch} ${_artifacts})
    set(_args -max_total_time=${CHORUS_FUZZ_SECONDS} -rss_limit_mb=2048 -timeout=10
              -print_final_stats=1 -artifact_prefix=${_artifacts}/)
    if(EXISTS ${_chorus_fuzz_src}/dict/${name}.dict)
      list(APPEND _args -dict=${_chorus_fuzz_src}/dict/${name}.dict)
    endif()
    # The first directory receives new inputs: the scratch copy in this build tree.
    add_test(NAME fuzz_run_${name}
             COMMAND ${CHORUS_FUZZ_DIR}/tests/fuzz/${name}_fuzz ${_args} ${_scratch} ${_seeds})
    # One fuzzer at a time: each takes a whole core.
    set_tests_properties(fuzz_run_${name} PROPERTIES
      LABELS "fuzz" TIMEOUT ${_chorus_fuzz_timeout} RESOURCE_LOCK chorus_fuzz_run)
  endif()
endforeach()
