# The WASM core smoke module for the browser (ES module + .wasm), served at /chorus/.
add_executable(chorus_inspector ${CMAKE_CURRENT_LIST_DIR}/inspector.cpp)
target_link_libraries(chorus_inspector PRIVATE chorus_core)
set_target_properties(chorus_inspector PROPERTIES OUTPUT_NAME "chorus_inspector" SUFFIX ".mjs")
target_compile_options(chorus_inspector PRIVATE -Oz -flto -fno-exceptions)
target_link_options(chorus_inspector PRIVATE
  -Oz -flto -fno-exceptions
  -sMODULARIZE=1 -sEXPORT_ES6=1 -sENVIRONMENT=web -sFILESYSTEM=0
  -sALLOW_MEMORY_GROWTH=1
  "-sEXPORTED_FUNCTIONS=[\"_chorus_inspect\",\"_malloc\",\"_free\"]"
  "-sEXPORTED_RUNTIME_METHODS=[\"UTF8ToString\",\"stringToUTF8\",\"lengthBytesUTF8\"]")
