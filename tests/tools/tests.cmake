# Command-line tools over the core, and the differential test against the reference npm
# parsers (included by tests/CMakeLists.txt).
#
#  chorus_codec <corpus.jsonl>: decodes every corpus line with the Chorus codecs and prints
#    one canonical JSON line each (tests/tools/codec_tool.cpp). The same source builds to
#    WASM in wasm/CMakeLists.txt for the parity test (tests/wasm/tests.cmake).
#  differential (label "differential"): chorus_codec and tests/differential/js_codec.mjs
#    (engine.io-parser, socket.io-parser from node_modules) over the corpus, diffed by
#    tests/differential/compare.mjs.
add_executable(chorus_codec ${CMAKE_CURRENT_LIST_DIR}/codec_tool.cpp)
target_link_libraries(chorus_codec PRIVATE chorus_core)
target_include_directories(chorus_codec PRIVATE ${PROJECT_SOURCE_DIR}/server/tools)

if(CHORUS_NODE_TESTS)
  chorus_require_node(differential engine.io-parser socket.io-parser)
  set(_chorus_diff_dir ${CMAKE_CURRENT_LIST_DIR}/../differential)
  get_filename_component(_chorus_diff_dir ${_chorus_diff_dir} ABSOLUTE)
  add_test(NAME differential
           COMMAND ${CMAKE_COMMAND}
             -DNODE=${CHORUS_NODE}
             -DCODEC=$<TARGET_FILE:chorus_codec>
             -DSOURCE_DIR=${PROJECT_SOURCE_DIR}
             -DCORPUS=${_chorus_diff_dir}/corpus.jsonl
             -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/differential
             -P ${_chorus_diff_dir}/run_differential.cmake)
  set_tests_properties(differential PROPERTIES LABELS "differential" TIMEOUT 300)
endif()

#  chorus_cluster_codec: the cluster codecs (chorus/cluster/) on one JSON request per stdin
#    line (tests/tools/cluster_codec_tool.cpp), for the differential suite against notepack.io
#    and @socket.io/redis-adapter in tests/cluster_codec/.
add_executable(chorus_cluster_codec ${CMAKE_CURRENT_LIST_DIR}/cluster_codec_tool.cpp)
target_link_libraries(chorus_cluster_codec PRIVATE chorus_cluster)
target_include_directories(chorus_cluster_codec PRIVATE ${PROJECT_SOURCE_DIR}/server/tools)
