# CMake toolchain over Debian's Emscripten 3.1.6.
# Usage: cmake --preset wasm   (or -DCMAKE_TOOLCHAIN_FILE=toolchains/emscripten.cmake)
set(_em_root /usr/share/emscripten)
if(NOT EXISTS ${_em_root}/cmake/Modules/Platform/Emscripten.cmake)
  message(FATAL_ERROR "Emscripten not found under ${_em_root}: run toolchains/setup.sh")
endif()
# Emscripten's JS optimizer needs node-acorn from Debian's node modules (DESIGN.md §5).
set(ENV{NODE_PATH} /usr/share/nodejs)
set(CMAKE_C_COMPILER_LAUNCHER ${CMAKE_COMMAND} -E env NODE_PATH=/usr/share/nodejs)
set(CMAKE_CXX_COMPILER_LAUNCHER ${CMAKE_COMMAND} -E env NODE_PATH=/usr/share/nodejs)
set(CMAKE_C_LINKER_LAUNCHER ${CMAKE_COMMAND} -E env NODE_PATH=/usr/share/nodejs)
set(CMAKE_CXX_LINKER_LAUNCHER ${CMAKE_COMMAND} -E env NODE_PATH=/usr/share/nodejs)
include(${_em_root}/cmake/Modules/Platform/Emscripten.cmake)
