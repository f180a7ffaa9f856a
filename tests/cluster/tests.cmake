# Cluster suite (included by tests/CMakeLists.txt): several nodes sharing one redis-server of
# their own (127.0.0.1, a free port, nothing persisted), Node socket.io 4.8 nodes with
# @socket.io/redis-adapter (tests/cluster/node_node.mjs) beside Chorus nodes
# (chorus-cluster-app), all driven through the same control API and seen by the official
# socket.io-client; @socket.io/redis-emitter publishes from outside.
#
#  cluster_<file> (label "cluster"): tests/cluster/<file>.test.mjs. With the chorus-cluster-app
#    target, CHORUS_CLUSTER_APP names it and the cluster is node,node,chorus,chorus; without
#    it the cluster is Node nodes only (node,node,node) and the test output says why.
#    CHORUS_CLUSTER_KINDS (e.g. "node,node,node") overrides the kinds when run by hand.
#  cluster_cluster_streams: cluster.test.mjs again with CHORUS_CLUSTER_ADAPTER=streams, every
#    node on the Redis streams adapter (@socket.io/redis-streams-adapter on the Node nodes).
#    cluster_streams (streams.test.mjs) is connection state recovery across such nodes.
#    CHORUS_SERVER_BIN names chorus-server (faults.test.mjs runs it with --redis).
#    cluster_admin (admin.test.mjs): the Admin UI across a Chorus node and a Node node
#    (@socket.io/admin-ui's instrument).
# The chorus-cluster-app target, when there is one, is defined before this point (here, above
# the return, as tests/interop/tests.cmake defines its app), so the check below sees it.
if(TARGET chorus_server)
  add_executable(chorus-cluster-app ${CMAKE_CURRENT_LIST_DIR}/../apps/cluster_app.cpp)
  target_link_libraries(chorus-cluster-app PRIVATE chorus_server)
  target_include_directories(chorus-cluster-app PRIVATE ${PROJECT_SOURCE_DIR}/server/tools)
endif()
if(NOT CHORUS_NODE_TESTS)
  return()
endif()
# notepack.io (the adapter's msgpack) decodes what the nodes publish.
chorus_require_node(cluster socket.io socket.io-client @socket.io/redis-adapter @socket.io/redis-streams-adapter @socket.io/redis-emitter @socket.io/admin-ui
                    redis notepack.io)
set(CHORUS_REDIS_SERVER /usr/bin/redis-server CACHE FILEPATH "The redis-server the cluster tests start")
if(NOT EXISTS ${CHORUS_REDIS_SERVER})
  message(FATAL_ERROR "cluster tests: ${CHORUS_REDIS_SERVER} not found (Debian package redis-server): run toolchains/setup.sh, "
                      "or configure with -DCHORUS_NODE_TESTS=OFF to leave the Node suites out.")
endif()

set(_chorus_cluster_env "CHORUS_REDIS_SERVER=${CHORUS_REDIS_SERVER}")
if(TARGET chorus-cluster-app)
  list(APPEND _chorus_cluster_env "CHORUS_CLUSTER_APP=$<TARGET_FILE:chorus-cluster-app>")
endif()
if(TARGET chorus-server)  # faults.test.mjs starts chorus-server --redis too
  list(APPEND _chorus_cluster_env "CHORUS_SERVER_BIN=$<TARGET_FILE:chorus-server>")
endif()

chorus_add_node_tests(cluster DIR ${CMAKE_CURRENT_LIST_DIR} LABEL cluster TIMEOUT 300 ENVIRONMENT ${_chorus_cluster_env})
add_test(NAME cluster_cluster_streams
         COMMAND ${CHORUS_NODE} --test --test-reporter=spec ${CMAKE_CURRENT_LIST_DIR}/cluster.test.mjs
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(cluster_cluster_streams PROPERTIES
  LABELS cluster TIMEOUT 300 ENVIRONMENT "${_chorus_cluster_env};CHORUS_CLUSTER_ADAPTER=streams")
