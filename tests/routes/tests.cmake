# Routes suite (included by tests/CMakeLists.txt): raw routes beside realtime, driven over
# the wire by node:test files (tests/routes/*.test.mjs) against chorus-routes-app
# (tests/apps/routes_app.cpp): the SSE Engine.IO transport with a hand-written client and
# with the official socket.io-client, plain SSE feeds of rooms (npm `eventsource` and
# `curl -N`), REST routes, plain SSE streams and plain WebSockets (`ws` and raw frames).
#
#  routes_<file> (label "routes"): tests/routes/<file>.test.mjs; CHORUS_ROUTES_APP names the app.
if(TARGET chorus_server)
  add_executable(chorus-routes-app ${CMAKE_CURRENT_LIST_DIR}/../apps/routes_app.cpp)
  target_link_libraries(chorus-routes-app PRIVATE chorus_server)
  target_include_directories(chorus-routes-app PRIVATE ${PROJECT_SOURCE_DIR}/server/tools)
endif()

if(NOT CHORUS_NODE_TESTS)
  return()
endif()
chorus_require_node(routes socket.io-client eventsource ws)
find_program(CHORUS_CURL curl)
if(NOT CHORUS_CURL)
  message(FATAL_ERROR "routes tests: curl not found: run toolchains/setup.sh")
endif()

file(GLOB _chorus_routes_files CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.test.mjs)
list(SORT _chorus_routes_files)

if(TARGET chorus-routes-app)

  set(_chorus_routes_env "CHORUS_ROUTES_APP=$<TARGET_FILE:chorus-routes-app>" "CHORUS_CURL=${CHORUS_CURL}")
  foreach(_file IN LISTS _chorus_routes_files)
    get_filename_component(_name ${_file} NAME_WE)  # feeds.test.mjs -> feeds
    add_test(NAME routes_${_name}
             COMMAND ${CHORUS_NODE} --test --test-reporter=spec ${_file}
             WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(routes_${_name} PROPERTIES
      LABELS "routes" TIMEOUT 120 ENVIRONMENT "${_chorus_routes_env}")
  endforeach()
endif()
