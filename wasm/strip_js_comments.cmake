# chorus_strip_js_comments(<var>): removes from the JavaScript in <var> the comments that
# stand on lines of their own (// lines and /* */ blocks starting a line) and the lines left
# blank, so that browsers do not download the documentation (chorus.d.ts and the sources
# keep it). Comments after code on a line stay. Safe for code with no template literal or
# string spanning lines, which assemble.cmake's callers check (node --check of the result
# and the test suites).
function(chorus_strip_js_comments var)
  set(js "\n${${var}}")
  string(REGEX REPLACE "\n[ \t]*/\\*([^*]|\\*+[^*/])*\\*+/" "\n" js "${js}")
  string(REGEX REPLACE "\n[ \t]*//[^\n]*" "" js "${js}")
  string(REGEX REPLACE "\n[ \t]*\n" "\n" js "${js}")
  string(REGEX REPLACE "\n[ \t]*\n" "\n" js "${js}")
  string(SUBSTRING "${js}" 1 -1 js)
  set(${var} "${js}" PARENT_SCOPE)
endfunction()
