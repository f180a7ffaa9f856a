# cmake -DGLUE=chorus_core.mjs -DSOURCE=wasm/sdk/chorus.mjs -DOUT=chorus.mjs -P assemble.cmake
# Inlines the Emscripten ES module glue into the SDK module in place of its import line.
file(READ ${GLUE} glue)
file(READ ${SOURCE} source)
string(REPLACE "export default createChorusCore;" "" glue "${glue}")
set(import_line "import createChorusCore from \"./chorus_core.mjs\";")
string(FIND "${source}" "${import_line}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${SOURCE}: missing the line: ${import_line}")
endif()
string(REPLACE "${import_line}" "${glue}" out "${source}")
file(WRITE ${OUT} "${out}")
