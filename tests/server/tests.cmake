# Server unit tests (included by tests/CMakeLists.txt): tests/server/<name>_test.cpp mirror
# server/include/chorus/<name>.h and link the chorus_server library.
if(TARGET chorus_server)
  find_package(OpenSSL REQUIRED)
  file(GLOB CHORUS_SERVER_UNIT_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*_test.cpp)
  add_executable(chorus_server_tests ${CHORUS_SERVER_UNIT_TESTS})
  # OpenSSL directly too: the JWT tests build their own HMACs to check against.
  target_link_libraries(chorus_server_tests PRIVATE chorus_server OpenSSL::Crypto GTest::gtest_main)
  gtest_discover_tests(chorus_server_tests DISCOVERY_TIMEOUT 60 PROPERTIES LABELS unit)
endif()
