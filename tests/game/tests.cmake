# Game suite (included by tests/CMakeLists.txt): the arena game (GameService on chorus-server's
# /game, the page demo/game/) driven by node:test files, tests/game/*.test.mjs.
#   game_protocol  the official socket.io-client: join, inputs, snapshots, bots, limits, bad input
#   game_browser   the page in Debian's Chromium (playwright-core) with the SDK from the wasm
#                  build tree (CHORUS_WASM_DIR): two pages in one room, keyboard input, a closed
#                  page, a phone-sized viewport, screenshots in this build tree
if(NOT TARGET chorus-server OR NOT CHORUS_NODE_TESTS)
  return()
endif()
chorus_require_node(game socket.io-client playwright-core)
set(_game_env "CHORUS_SERVER=$<TARGET_FILE:chorus-server>" "CHORUS_GAME_SHOTS=${CMAKE_BINARY_DIR}/game-screenshots")
if(CHORUS_WASM_DIR)
  list(APPEND _game_env "CHORUS_WASM_DIR=${CHORUS_WASM_DIR}")
endif()
chorus_add_node_tests(game DIR ${CMAKE_CURRENT_LIST_DIR} LABEL game TIMEOUT 180 ENVIRONMENT ${_game_env})
if(TEST game_browser)
  if(NOT CHORUS_WASM_DIR)
    set_tests_properties(game_browser PROPERTIES DISABLED TRUE)
  endif()
  # Several Chromium pages and a sanitized server: alone on the machine's cores.
  set_tests_properties(game_browser PROPERTIES LABELS "game;e2e" RUN_SERIAL TRUE)
endif()
