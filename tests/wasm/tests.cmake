# WASM parity (included by tests/CMakeLists.txt): when CHORUS_WASM_DIR names a build tree of
# the wasm preset, run the Emscripten build of chorus_codec (wasm/CMakeLists.txt) under Node
# and the native one over the differential corpus; their outputs must be byte-identical. And
# the shipped SDK + CRDT modules' size budget.
if(CHORUS_WASM_DIR)
  find_program(CHORUS_NODE node)
  if(NOT CHORUS_NODE)
    message(FATAL_ERROR "CHORUS_WASM_DIR is set but node was not found")
  endif()
  add_test(NAME wasm_parity
           COMMAND ${CMAKE_COMMAND}
             -DNODE=${CHORUS_NODE}
             -DWASM_CODEC=${CHORUS_WASM_DIR}/wasm/chorus_codec.cjs
             -DNATIVE_CODEC=$<TARGET_FILE:chorus_codec>
             -DCORPUS=${CMAKE_CURRENT_LIST_DIR}/../differential/corpus.jsonl
             -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/wasm_parity
             -P ${CMAKE_CURRENT_LIST_DIR}/run_parity.cmake)
  set_tests_properties(wasm_parity PROPERTIES LABELS "wasm" TIMEOUT 300)
  # The SDK + CRDT download budget (size_budget.test.mjs).
  add_test(NAME wasm_size_budget
           COMMAND ${CHORUS_NODE} --test --test-reporter=spec ${CMAKE_CURRENT_LIST_DIR}/size_budget.test.mjs)
  set_tests_properties(wasm_size_budget PROPERTIES LABELS "wasm" TIMEOUT 60
                       ENVIRONMENT "CHORUS_WASM_DIR=${CHORUS_WASM_DIR}")
endif()
