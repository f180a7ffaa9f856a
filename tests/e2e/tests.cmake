# End-to-end suite (included by tests/CMakeLists.txt): the collaborative editor (demo/) in
# Debian's Chromium via playwright-core, against the real chorus-server, with the Chorus SDK
# and the CRDT module from the wasm build tree (CHORUS_WASM_DIR/wasm, served at /chorus/).
#   e2e_collab_module  chorus_collab.mjs under Node (bindings: UTF-16, deltas, undo, ...)
#   e2e_editor         three pages at once, offline and back, kill -9 of the server, remote
#                      cursors, SSE and polling, undo, chat (bundles the page first)
if(NOT TARGET chorus-server OR NOT CHORUS_WASM_DIR OR NOT CHORUS_NODE_TESTS)
  return()
endif()
chorus_require_node(e2e playwright-core esbuild socket.io-client @codemirror/view @codemirror/state)

set(_e2e_env "CHORUS_SERVER=$<TARGET_FILE:chorus-server>;CHORUS_WASM_DIR=${CHORUS_WASM_DIR}")
add_test(NAME e2e_collab_module
         COMMAND ${CHORUS_NODE} --test --test-reporter=spec ${CMAKE_CURRENT_LIST_DIR}/collab_module.test.mjs
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_collab_module PROPERTIES LABELS "e2e;wasm" TIMEOUT 60 ENVIRONMENT "${_e2e_env}")

add_test(NAME e2e_editor
         COMMAND ${CHORUS_NODE} --test --test-reporter=spec ${CMAKE_CURRENT_LIST_DIR}/editor.test.mjs
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
# Several Chromium pages and a sanitized server: alone on the machine's cores.
set_tests_properties(e2e_editor PROPERTIES LABELS "e2e" TIMEOUT 300 RUN_SERIAL TRUE ENVIRONMENT "${_e2e_env}")

# Epochs: a page offline while the server drops the document's tombstones carries its edits
# over and loads the new epoch.
add_test(NAME e2e_epoch
         COMMAND ${CHORUS_NODE} --test --test-reporter=spec ${CMAKE_CURRENT_LIST_DIR}/epoch.test.mjs
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_epoch PROPERTIES LABELS "e2e" TIMEOUT 180 RUN_SERIAL TRUE ENVIRONMENT "${_e2e_env}")
