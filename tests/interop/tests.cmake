# Interop suite (included by tests/CMakeLists.txt): the official socket.io-client 4.x from
# node_modules against the Chorus interop app (tests/apps/interop_app.cpp), over WebSocket,
# long-polling and polling with upgrade. tests/interop/harness.mjs starts the server.
#
#  interop_<file> (label "interop"): tests/interop/<file>.test.mjs against chorus-interop-app.
#  interop_reference (label "interop"): every file against tests/apps/interop_reference.mjs,
#    the same app on the official Node socket.io server, which keeps the suite honest.
if(TARGET chorus_server)
  add_executable(chorus-interop-app ${CMAKE_CURRENT_LIST_DIR}/../apps/interop_app.cpp)
  target_link_libraries(chorus-interop-app PRIVATE chorus_server)
  target_include_directories(chorus-interop-app PRIVATE ${PROJECT_SOURCE_DIR}/server/tools)
endif()

if(NOT CHORUS_NODE_TESTS)
  return()
endif()
chorus_require_node(interop socket.io socket.io-client)

file(GLOB _chorus_interop_files CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.test.mjs)
list(SORT _chorus_interop_files)

if(TARGET chorus-interop-app)

  foreach(_file IN LISTS _chorus_interop_files)
    get_filename_component(_name ${_file} NAME_WE)  # events.test.mjs -> events
    add_test(NAME interop_${_name}
             COMMAND ${CHORUS_NODE} --test --test-reporter=spec ${_file}
             WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(interop_${_name} PROPERTIES
      LABELS "interop" TIMEOUT 120
      ENVIRONMENT "CHORUS_INTEROP_BIN=$<TARGET_FILE:chorus-interop-app>;CHORUS_TARGET=chorus")
  endforeach()
endif()

add_test(NAME interop_reference
         COMMAND ${CHORUS_NODE} --test --test-reporter=spec ${_chorus_interop_files}
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(interop_reference PROPERTIES
  LABELS "interop" TIMEOUT 180 ENVIRONMENT "CHORUS_TARGET=reference")
