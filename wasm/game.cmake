# The game's snapshot decoder in WebAssembly (wasm/game/decode.cpp), for bench/game_decode.mjs,
# which measures it against the page's JavaScript decoder. Not part of ALL and never served:
# the page decodes in JavaScript (README, "The game").
#   cmake --build --preset wasm --target chorus_game_decode
#   -> wasm/chorus_game_decode.mjs and .wasm in this build tree
add_executable(chorus_game_decode EXCLUDE_FROM_ALL ${CMAKE_CURRENT_LIST_DIR}/game/decode.cpp)
target_link_libraries(chorus_game_decode PRIVATE chorus_core)
set_target_properties(chorus_game_decode PROPERTIES SUFFIX ".mjs")
target_compile_options(chorus_game_decode PRIVATE -Oz -flto -fno-exceptions -fno-rtti)
target_link_options(chorus_game_decode PRIVATE
  -Oz -flto -fno-exceptions -fno-rtti
  -sMODULARIZE=1 -sEXPORT_ES6=1 -sEXPORT_NAME=createGameDecode
  -sENVIRONMENT=web,worker -sFILESYSTEM=0 -sALLOW_MEMORY_GROWTH=1 -sMALLOC=emmalloc
  -sSUPPORT_LONGJMP=0 -sDYNAMIC_EXECUTION=0
  "-sEXPORTED_FUNCTIONS=[\"_chorus_game_input\",\"_chorus_game_decode\",\"_chorus_game_output\"]"
  "-sEXPORTED_RUNTIME_METHODS=[\"HEAPU8\",\"HEAPU32\"]")
