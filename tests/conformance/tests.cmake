# Conformance suite (included by tests/CMakeLists.txt): Engine.IO v4, Socket.IO v5 and
# RFC 6455 over the wire, written with node:test (tests/conformance/*.test.mjs).
#
#  conformance_<file> (label "conformance"): one file against the Chorus test executables
#    chorus-conformance and chorus-eio-echo; added only once those targets exist.
#  conformance_reference (labels "conformance;reference"): the whole suite against
#    reference_server.mjs (npm socket.io / engine.io configured like the executables), which
#    proves the tests themselves; only Chorus-specific assertions are skipped there.
if(NOT CHORUS_NODE_TESTS)
  return()
endif()
chorus_require_node(conformance socket.io engine.io ws)

file(GLOB CHORUS_CONFORMANCE_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.test.mjs)
list(SORT CHORUS_CONFORMANCE_TESTS)

add_test(NAME conformance_reference
         COMMAND ${CHORUS_NODE} --test ${CHORUS_CONFORMANCE_TESTS}
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(conformance_reference PROPERTIES
  ENVIRONMENT "CHORUS_TARGET=reference"
  LABELS "conformance;reference"
  TIMEOUT 180)

# The executables may be defined after this file is read: decide at the end of the
# top-level directory, when every target is known (the deferred call runs in that scope,
# hence the global property).
set_property(GLOBAL PROPERTY CHORUS_CONFORMANCE_TESTS ${CHORUS_CONFORMANCE_TESTS})
function(chorus_add_conformance_tests)
  get_property(CHORUS_CONFORMANCE_TESTS GLOBAL PROPERTY CHORUS_CONFORMANCE_TESTS)
  if(NOT (TARGET chorus-conformance AND TARGET chorus-eio-echo))
    message(STATUS "chorus-conformance / chorus-eio-echo not defined: only conformance_reference is added")
    return()
  endif()
  foreach(file IN LISTS CHORUS_CONFORMANCE_TESTS)
    get_filename_component(name ${file} NAME)
    string(REGEX REPLACE "\\.test\\.mjs$" "" name ${name})
    add_test(NAME conformance_${name}
             COMMAND ${CHORUS_NODE} --test ${file}
             WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(conformance_${name} PROPERTIES
      ENVIRONMENT "CHORUS_TARGET=chorus;CHORUS_CONFORMANCE_BIN=$<TARGET_FILE:chorus-conformance>;CHORUS_EIO_ECHO_BIN=$<TARGET_FILE:chorus-eio-echo>"
      LABELS "conformance"
      TIMEOUT 120)
  endforeach()
endfunction()
cmake_language(DEFER DIRECTORY ${PROJECT_SOURCE_DIR} CALL chorus_add_conformance_tests)
