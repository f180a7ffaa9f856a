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

# admin_ui_ui (label "admin"): the official UI's built files in Chromium (tests/admin/browser).
# They ship in the npm package @socket.io/admin-ui (ui/dist), a locked test dependency.
chorus_require_node(admin_ui playwright-core @socket.io/admin-ui)
set(CHORUS_ADMIN_UI_DIR ${PROJECT_SOURCE_DIR}/node_modules/@socket.io/admin-ui/ui/dist CACHE PATH
    "The Socket.IO Admin UI's built files (@socket.io/admin-ui's ui/dist)")
if(NOT EXISTS ${CHORUS_ADMIN_UI_DIR}/index.html)
  message(FATAL_ERROR "admin tests: no ${CHORUS_ADMIN_UI_DIR}/index.html: run toolchains/setup.sh (npm ci)")
endif()
find_program(CHORUS_CHROMIUM NAMES chromium chromium-browser)
if(NOT CHORUS_CHROMIUM)
  message(FATAL_ERROR "admin tests: chromium not found: run toolchains/setup.sh")
endif()
chorus_add_node_tests(admin_ui DIR ${CMAKE_CURRENT_LIST_DIR}/browser LABEL admin TIMEOUT 120
  ENVIRONMENT "CHORUS_SERVER_BIN=$<TARGET_FILE:chorus-server>" "CHORUS_ADMIN_UI=${CHORUS_ADMIN_UI_DIR}"
              "CHORUS_CHROMIUM=${CHORUS_CHROMIUM}")
