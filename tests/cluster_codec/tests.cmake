# Cluster codec suite (included by tests/CMakeLists.txt): node:test files (tests/cluster_codec/
# *.test.mjs) comparing chorus_cluster_codec (tests/tools/cluster_codec_tool.cpp) with the real
# JavaScript peers: notepack.io, @socket.io/redis-adapter, @socket.io/redis-emitter, and
# @socket.io/redis-streams-adapter with @msgpack/msgpack; the adapter and streams suites
# run a redis-server on 127.0.0.1 at a free port with Node socket.io nodes.
#
#  cluster_codec_<file> (label "cluster_codec"): CHORUS_CLUSTER_CODEC names the tool,
#    CHORUS_REDIS_SERVER the redis-server binary.
if(NOT CHORUS_NODE_TESTS)
  return()
endif()
chorus_require_node(cluster_codec notepack.io @socket.io/redis-adapter @socket.io/redis-emitter
                    @socket.io/redis-streams-adapter @msgpack/msgpack redis socket.io
                    socket.io-client)
find_program(CHORUS_REDIS_SERVER redis-server)
if(NOT CHORUS_REDIS_SERVER)
  message(FATAL_ERROR "cluster_codec tests: redis-server not found: run toolchains/setup.sh")
endif()
chorus_add_node_tests(cluster_codec DIR ${CMAKE_CURRENT_LIST_DIR} LABEL cluster_codec TIMEOUT 120
  ENVIRONMENT "CHORUS_CLUSTER_CODEC=$<TARGET_FILE:chorus_cluster_codec>" "CHORUS_REDIS_SERVER=${CHORUS_REDIS_SERVER}")
