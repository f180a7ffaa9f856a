# Metrics suite (included by tests/CMakeLists.txt): the Prometheus metrics of a server under
# known traffic, driven over the wire by node:test files (tests/metrics/*.test.mjs) with the
# official socket.io-client and hand-written Engine.IO clients, against chorus-metrics-app
# (tests/apps/metrics_app.cpp) and chorus-server. Every scrape is parsed as the text format.
#
#  metrics_<file> (label "metrics"): tests/metrics/<file>.test.mjs; CHORUS_METRICS_APP names the
#    app, CHORUS_SERVER_BIN chorus-server, CHORUS_REDIS_SERVER the redis-server the cluster case
#    starts.
if(TARGET chorus_server)
  add_executable(chorus-metrics-app ${CMAKE_CURRENT_LIST_DIR}/../apps/metrics_app.cpp)
  target_link_libraries(chorus-metrics-app PRIVATE chorus_server)
  target_include_directories(chorus-metrics-app PRIVATE ${PROJECT_SOURCE_DIR}/server/tools)
endif()
if(NOT CHORUS_NODE_TESTS OR NOT TARGET chorus-metrics-app OR NOT TARGET chorus-server)
  return()
endif()
chorus_require_node(metrics socket.io-client)
set(CHORUS_REDIS_SERVER /usr/bin/redis-server CACHE FILEPATH "The redis-server the cluster tests start")
chorus_add_node_tests(metrics DIR ${CMAKE_CURRENT_LIST_DIR} LABEL metrics TIMEOUT 120
  ENVIRONMENT "CHORUS_METRICS_APP=$<TARGET_FILE:chorus-metrics-app>" "CHORUS_SERVER_BIN=$<TARGET_FILE:chorus-server>"
              "CHORUS_REDIS_SERVER=${CHORUS_REDIS_SERVER}")
