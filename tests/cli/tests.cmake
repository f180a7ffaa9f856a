# chorus-server command-line suite (included by tests/CMakeLists.txt): node:test files
# (tests/cli/*.test.mjs) that start the chorus-server binary with --port 0 and check its
# flags, --config files, exit codes, signals, static files, TLS (a self-signed certificate
# made with the openssl CLI), JWT login and the routes beside realtime.
#
#  cli_<file> (label "cli"): tests/cli/<file>.test.mjs; CHORUS_SERVER_BIN names the binary,
#    CHORUS_PROGRAMS the other programs (':'-separated) whose command lines cli_programs checks.
if(NOT CHORUS_NODE_TESTS)
  return()
endif()
chorus_require_node(cli socket.io-client eventsource ws)
find_program(CHORUS_OPENSSL openssl)
if(NOT CHORUS_OPENSSL)
  message(FATAL_ERROR "cli tests: the openssl command (for a test certificate) not found: run toolchains/setup.sh")
endif()

if(TARGET chorus-server)
  # programs.test.mjs checks every program's --help and flag errors.
  set(_chorus_programs)
  foreach(_target IN ITEMS chorus-eio-echo chorus-conformance chorus-routes-app chorus-interop-app chorus-cluster-app chorus-metrics-app
                           chorus-bench-server chorus-loadgen collab_bench chorus_codec chorus_cluster_codec json_parse_replay)
    if(TARGET ${_target})
      list(APPEND _chorus_programs "$<TARGET_FILE:${_target}>")
    endif()
  endforeach()
  list(JOIN _chorus_programs ":" _chorus_programs)
  chorus_add_node_tests(cli DIR ${CMAKE_CURRENT_LIST_DIR} LABEL cli TIMEOUT 60
    ENVIRONMENT "CHORUS_SERVER_BIN=$<TARGET_FILE:chorus-server>" "CHORUS_PROGRAMS=${_chorus_programs}")
endif()
