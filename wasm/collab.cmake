# The collaborative text CRDT for browsers and Node (included by wasm/CMakeLists.txt):
# chorus::collab::Doc + UndoManager behind an ES module. Output, next to chorus_inspector.*
# in this build tree's wasm/ folder (chorus-server --sdk serves it at /chorus/):
#   chorus_collab.mjs   wasm/collab/collab.mjs with the Emscripten glue inlined in place of
#                       its `import createChorusCollab from "./chorus_collab_glue.mjs"` line,
#                       minified (chorus_collab.mjs.map: its source map)
#   chorus_collab.wasm  the CRDT (wasm/collab/bindings.cpp)
# One flavour for browsers and Node: the minimal runtime's glue (wasm/CMakeLists.txt) takes
# the .wasm bytes, which collab.mjs fetches in a page and reads with node:fs under Node, so
# neither the 3.1.6 glue's __dirname nor Node 20's fetch are involved (DESIGN.md §5).
set(_collab_src ${CMAKE_CURRENT_LIST_DIR}/collab)
set(_collab_out ${CMAKE_CURRENT_BINARY_DIR})
set(_collab_glue_dir ${CMAKE_CURRENT_BINARY_DIR}/collab_glue)

set(_collab_exports
  _chorus_collab_input _chorus_collab_output _chorus_collab_error
  _chorus_collab_create _chorus_collab_destroy _chorus_collab_insert _chorus_collab_insert_unit
  _chorus_collab_erase
  _chorus_collab_take_update _chorus_collab_has_local_changes _chorus_collab_apply_update
  _chorus_collab_text _chorus_collab_length _chorus_collab_memory _chorus_collab_pending _chorus_collab_state_vector
  _chorus_collab_encode_state _chorus_collab_relative_position _chorus_collab_resolve
  _chorus_collab_undo _chorus_collab_undo_state _chorus_collab_stop_capturing
  _chorus_collab_clear_undo)
list(JOIN _collab_exports "\",\"" _collab_exports_joined)
chorus_exports_post_js(_collab_post_js chorus_collab ${_collab_exports})

add_executable(chorus_collab_core ${_collab_src}/bindings.cpp)
target_link_libraries(chorus_collab_core PRIVATE chorus_core)
set_target_properties(chorus_collab_core PROPERTIES
  OUTPUT_NAME "chorus_collab" SUFFIX ".mjs" RUNTIME_OUTPUT_DIRECTORY ${_collab_glue_dir})
# Built for speed per keystroke over size (README, Collaboration), as core/CMakeLists.txt
# builds the CRDT's sources: -O2 with bulk memory instructions. The link's level matters as
# much as the sources': wasm-opt -Oz after a fast compile loses most of it.
target_compile_options(chorus_collab_core PRIVATE -O2 -mbulk-memory -flto -fno-exceptions -fno-rtti)
target_link_options(chorus_collab_core PRIVATE
  -O3 -mbulk-memory -flto -fno-exceptions -fno-rtti
  -sMINIMAL_RUNTIME=1 -sMODULARIZE=1 -sEXPORT_ES6=1 -sEXPORT_NAME=createChorusCollab
  -sENVIRONMENT=web,worker -sFILESYSTEM=0 -sALLOW_MEMORY_GROWTH=1 -sMALLOC=emmalloc
  -sSUPPORT_LONGJMP=0 -sDYNAMIC_EXECUTION=0 -sTEXTDECODER=2
  "-sEXPORTED_FUNCTIONS=[\"${_collab_exports_joined}\"]"
  --post-js ${_collab_post_js})
set_property(TARGET chorus_collab_core APPEND PROPERTY LINK_DEPENDS ${_collab_post_js})

add_custom_command(
  OUTPUT ${_collab_out}/chorus_collab.mjs ${_collab_out}/chorus_collab.mjs.map ${_collab_out}/chorus_collab.wasm
  COMMAND ${CMAKE_COMMAND}
    -DGLUE=${_collab_glue_dir}/chorus_collab.mjs -DSOURCE=${_collab_src}/collab.mjs
    -DOUT=${_collab_glue_dir}/collab.mjs -P ${_collab_src}/assemble.cmake
  COMMAND ${CHORUS_ESBUILD} ${_collab_glue_dir}/collab.mjs ${CHORUS_ESBUILD_MINIFY}
    --outfile=${_collab_out}/chorus_collab.mjs
  COMMAND ${CMAKE_COMMAND} -E copy ${_collab_glue_dir}/chorus_collab.wasm ${_collab_out}/chorus_collab.wasm
  DEPENDS chorus_collab_core ${_collab_src}/collab.mjs ${_collab_src}/assemble.cmake
  COMMENT "Assembling the Chorus collaborative text module (chorus_collab.mjs, chorus_collab.wasm)"
  VERBATIM)
add_custom_target(chorus_collab ALL
  DEPENDS ${_collab_out}/chorus_collab.mjs ${_collab_out}/chorus_collab.wasm)
