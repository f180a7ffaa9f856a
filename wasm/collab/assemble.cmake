# cmake -DGLUE=glue.mjs -DSOURCE=wasm/collab/collab.mjs -DOUT=chorus_collab.mjs -P assemble.cmake
# Inlines the Emscripten ES module glue into collab.mjs in place of its import line, so the
# page loads one module (plus the .wasm beside it).
file(READ ${GLUE} glue)
file(READ ${SOURCE} source)
string(REPLACE "export default createChorusCollab;" "" glue "${glue}")
set(import_line "import createChorusCollab from \"./chorus_collab_glue.mjs\";")
string(FIND "${source}" "${import_line}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${SOURCE}: missing the line: ${import_line}")
endif()
string(REPLACE "${import_line}" "${glue}" out "${source}")
file(WRITE ${OUT} "${out}")
