# Admin UI suite (included by tests/CMakeLists.txt): chorus-server's /admin namespace driven as
# the official @socket.io/admin-ui 0.5 UI drives it, with the official socket.io-client
# (tests/admin/*.test.mjs): login, session, config, all_sockets, live events, server_stats,
# commands, readonly mode.
#
#  admin_<file> (label "admin"): tests/admin/<file>.test.mjs; CHORUS_SERVER_BIN names chorus-server.
if(NOT CHORUS_NODE_TESTS OR NOT TARGET chorus-server)
  return()
endif()
chorus_require_node(admin socket.io-client)
chorus_add_node_tests(admin DIR ${CMAKE_CURRENT_LIST_DIR} LABEL admin TIMEOUT 120
  ENVIRONMENT "CHORUS_SERVER_BIN=$<TARGET_FILE:chorus-server>")
