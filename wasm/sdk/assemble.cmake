# cmake -DGLUE=chorus_core.mjs -DSOURCE=wasm/sdk/chorus.mjs -DOUT=chorus.mjs -P assemble.cmake
# Inlines the Emscripten ES module glue into the SDK module in place of its import line.
file(READ ${GLUE} glue)
file(READ ${SOURCE} source)
string(REPLACE "export default createChorusCore;" "" glue "${glue}")
# The glue's fallback names its own file (chorus_core.wasm), which the SDK ships as chorus.wasm:
# a bundler that follows `new URL("...", import.meta.url)` (webpack, Vite) must find the file.
string(REGEX REPLACE "new URL\\(\"chorus_core\\.wasm\", *import\\.meta\\.url\\)" "new URL(\"chorus.wasm\",import.meta.url)"
       glue "${glue}")
set(import_line "import createChorusCore from \"./chorus_core.mjs\";")
string(FIND "${source}" "${import_line}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${SOURCE}: missing the line: ${import_line}")
endif()
string(REPLACE "${import_line}" "${glue}" out "${source}")
file(WRITE ${OUT} "${out}")
