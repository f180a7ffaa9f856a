# The Chorus browser SDK (included by wasm/CMakeLists.txt): the client core in WebAssembly
# behind the socket.io-client API. Output, next to chorus_inspector.* in this build tree's
# wasm/ folder (chorus-server --sdk serves it at /chorus/):
#   chorus.mjs   wasm/sdk/chorus.mjs with the Emscripten glue inlined in place of its
#                `import createChorusCore from "./chorus_core.mjs"` line: one module to load,
#                minified (chorus.mjs.map: its source map, the readable module in it)
#   chorus.wasm  the core (client::Manager, wasm/sdk/bindings.cpp)
#   chorus.d.ts  the hand-written types
# One flavour serves browsers, workers and Node: the minimal runtime's glue
# (wasm/CMakeLists.txt) takes the .wasm bytes, which chorus.mjs fetches in a page and reads
# with node:fs under Node, so neither the glue's __dirname nor Node 20's fetch are involved
# (DESIGN.md §5).
set(_sdk_src ${CMAKE_CURRENT_LIST_DIR}/sdk)
set(_sdk_out ${CMAKE_CURRENT_BINARY_DIR})
set(_sdk_glue_dir ${CMAKE_CURRENT_BINARY_DIR}/sdk_glue)

set(_sdk_exports
  _chorus_scratch _chorus_stage_binary _chorus_error
  _chorus_manager_create _chorus_manager_destroy _chorus_manager_configure _chorus_manager_open
  _chorus_manager_close _chorus_manager_state
  _chorus_socket_add _chorus_socket_state _chorus_socket_connect _chorus_socket_disconnect
  _chorus_socket_auth _chorus_socket_notify_outgoing _chorus_emit _chorus_ack
  _chorus_transport_open _chorus_transport_text _chorus_transport_binary _chorus_transport_close
  _chorus_http_response _chorus_timer _chorus_next_action)
list(JOIN _sdk_exports "\",\"" _sdk_exports_joined)
chorus_exports_post_js(_sdk_post_js chorus_sdk ${_sdk_exports})

add_executable(chorus_sdk_core ${_sdk_src}/bindings.cpp)
target_link_libraries(chorus_sdk_core PRIVATE chorus_core)
set_target_properties(chorus_sdk_core PROPERTIES
  OUTPUT_NAME "chorus_core" SUFFIX ".mjs" RUNTIME_OUTPUT_DIRECTORY ${_sdk_glue_dir})
target_compile_options(chorus_sdk_core PRIVATE -Oz -flto -fno-exceptions -fno-rtti)
target_link_options(chorus_sdk_core PRIVATE
  -Oz -flto -fno-exceptions -fno-rtti
  -sMINIMAL_RUNTIME=1 -sMODULARIZE=1 -sEXPORT_ES6=1 -sEXPORT_NAME=createChorusCore
  -sENVIRONMENT=web,worker -sFILESYSTEM=0 -sALLOW_MEMORY_GROWTH=1 -sMALLOC=emmalloc
  -sSUPPORT_LONGJMP=0 -sDYNAMIC_EXECUTION=0 -sTEXTDECODER=2
  "-sEXPORTED_FUNCTIONS=[\"${_sdk_exports_joined}\"]"
  --post-js ${_sdk_post_js})
set_property(TARGET chorus_sdk_core APPEND PROPERTY LINK_DEPENDS ${_sdk_post_js})

add_custom_command(
  OUTPUT ${_sdk_out}/chorus.mjs ${_sdk_out}/chorus.mjs.map ${_sdk_out}/chorus.wasm ${_sdk_out}/chorus.d.ts
  COMMAND ${CMAKE_COMMAND}
    -DGLUE=${_sdk_glue_dir}/chorus_core.mjs -DSOURCE=${_sdk_src}/chorus.mjs -DOUT=${_sdk_glue_dir}/chorus.mjs
    -P ${_sdk_src}/assemble.cmake
  COMMAND ${CHORUS_ESBUILD} ${_sdk_glue_dir}/chorus.mjs ${CHORUS_ESBUILD_MINIFY} --outfile=${_sdk_out}/chorus.mjs
  COMMAND ${CMAKE_COMMAND} -E copy ${_sdk_glue_dir}/chorus_core.wasm ${_sdk_out}/chorus.wasm
  COMMAND ${CMAKE_COMMAND} -E copy ${_sdk_src}/chorus.d.ts ${_sdk_out}/chorus.d.ts
  DEPENDS chorus_sdk_core ${_sdk_src}/chorus.mjs ${_sdk_src}/chorus.d.ts ${_sdk_src}/assemble.cmake
  COMMENT "Assembling the Chorus browser SDK (chorus.mjs, chorus.wasm, chorus.d.ts)"
  VERBATIM)
add_custom_target(chorus_sdk ALL
  DEPENDS ${_sdk_out}/chorus.mjs ${_sdk_out}/chorus.wasm ${_sdk_out}/chorus.d.ts)

# The npm package (chorus_sdk_package, part of ALL): this build tree's wasm/npm/ is staged with
# package.json (wasm/sdk/npm/package.json.in; version = the CMake project version), the
# package's README.md and the three SDK files, and `npm pack` writes chorus-sdk-<version>.tgz
# into the same folder (`npm install <that file>` installs the SDK; tests/sdk/npm_package.test.mjs).
# Offline: packing a folder needs no registry, and the package has no dependencies.
find_program(CHORUS_NPM npm NO_CMAKE_FIND_ROOT_PATH)
if(NOT CHORUS_NPM)
  message(FATAL_ERROR "npm not found (the chorus_sdk_package target runs npm pack): run toolchains/setup.sh")
endif()
set(_npm_dir ${_sdk_out}/npm)
set(CHORUS_SDK_TARBALL ${_npm_dir}/chorus-sdk-${PROJECT_VERSION}.tgz)
configure_file(${_sdk_src}/npm/package.json.in ${_npm_dir}/package.json @ONLY)
add_custom_command(
  OUTPUT ${CHORUS_SDK_TARBALL}
  COMMAND ${CMAKE_COMMAND} -E copy ${_sdk_out}/chorus.mjs ${_sdk_out}/chorus.mjs.map ${_sdk_out}/chorus.wasm
                                   ${_sdk_out}/chorus.d.ts ${_sdk_src}/npm/README.md ${_npm_dir}
  COMMAND ${CHORUS_NPM} pack --offline --silent --pack-destination ${_npm_dir}
  WORKING_DIRECTORY ${_npm_dir}
  DEPENDS chorus_sdk ${_sdk_out}/chorus.mjs ${_sdk_out}/chorus.wasm ${_sdk_out}/chorus.d.ts
          ${_npm_dir}/package.json ${_sdk_src}/npm/README.md
  COMMENT "Packing the Chorus SDK for npm (chorus-sdk-${PROJECT_VERSION}.tgz)"
  VERBATIM)
add_custom_target(chorus_sdk_package ALL DEPENDS ${CHORUS_SDK_TARBALL})
