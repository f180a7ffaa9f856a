# Server unit tests (included by tests/CMakeLists.txt): tests/server/<name>_test.cpp mirror
# server/include/chorus/<name>.h and link the chorus_server library.
if(TARGET chorus_server)
  find_package(OpenSSL REQUIRED)
  file(GLOB CHORUS_SERVER_UNIT_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*_test.cpp)
  list(FILTER CHORUS_SERVER_UNIT_TESTS EXCLUDE REGEX "/redis_[^/]*_test\\.cpp$")
  add_executable(chorus_server_tests ${CHORUS_SERVER_UNIT_TESTS})
  # OpenSSL directly too: the JWT tests build their own HMACs to check against, the CivetWeb
  # takeover tests make a certificate and speak TLS.
  target_link_libraries(chorus_server_tests PRIVATE chorus_server chorus_civetweb OpenSSL::SSL OpenSSL::Crypto
                        GTest::gtest_main)
  # metrics_test.cpp checks the server's internal counters (server/src/metrics.h).
  target_include_directories(chorus_server_tests PRIVATE ${PROJECT_SOURCE_DIR}/server/src)
  gtest_discover_tests(chorus_server_tests DISCOVERY_TIMEOUT 60 PROPERTIES LABELS unit)
  # Handler stacks are set at build time, not taken from `ulimit -s` (which pthread defaults
  # follow): 8 MiB with a 1 MiB limit too.
  add_test(NAME CivetwebTakeover.HandlerStackIgnoresUlimit
           COMMAND sh -c "ulimit -s 1024 && exec \"$1\" --gtest_filter=CivetwebTakeover.HandlersRunOnEightMebibyteStacks"
                   sh $<TARGET_FILE:chorus_server_tests>)
  set_tests_properties(CivetwebTakeover.HandlerStackIgnoresUlimit PROPERTIES LABELS unit)

  # The Redis client against real redis-server processes (label `redis`): each test starts its
  # own on 127.0.0.1 at a free port. hiredis directly too: the tests check what the client did
  # through a connection of their own.
  find_program(CHORUS_REDIS_SERVER redis-server)
  if(NOT CHORUS_REDIS_SERVER)
    message(FATAL_ERROR "redis tests: redis-server not found: run toolchains/setup.sh")
  endif()
  file(GLOB CHORUS_REDIS_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/redis_*_test.cpp)
  add_executable(chorus_redis_tests ${CHORUS_REDIS_TESTS})
  target_include_directories(chorus_redis_tests PRIVATE ${PROJECT_SOURCE_DIR}/server/src)
  target_compile_definitions(chorus_redis_tests PRIVATE CHORUS_REDIS_SERVER="${CHORUS_REDIS_SERVER}")
  target_link_libraries(chorus_redis_tests PRIVATE chorus_server PkgConfig::HIREDIS GTest::gtest_main)
  gtest_discover_tests(chorus_redis_tests DISCOVERY_TIMEOUT 60 PROPERTIES LABELS redis TIMEOUT 120)
endif()

# The collaboration service over the wire (tests/server/collab.test.mjs): the official
# socket.io-client against chorus-collab-app (tests/apps/collab_app.cpp), a real SQLite file
# and restarts of the process (limits, compaction, idle unloading).
find_program(CHORUS_NODE node)
if(TARGET chorus_server AND CHORUS_NODE AND EXISTS ${PROJECT_SOURCE_DIR}/node_modules/socket.io-client/package.json)
  add_executable(chorus-collab-app ${CMAKE_CURRENT_LIST_DIR}/../apps/collab_app.cpp)
  target_link_libraries(chorus-collab-app PRIVATE chorus_server)
  add_test(NAME server_collab
           COMMAND ${CHORUS_NODE} --test --test-reporter=spec ${CMAKE_CURRENT_LIST_DIR}/collab.test.mjs
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(server_collab PROPERTIES
    LABELS "server" TIMEOUT 120 ENVIRONMENT "CHORUS_COLLAB_APP=$<TARGET_FILE:chorus-collab-app>")
  # Epochs over the wire, with the shipped CRDT module as the client's replica.
  if(CHORUS_WASM_DIR)
    add_test(NAME server_collab_epoch
             COMMAND ${CHORUS_NODE} --test --test-reporter=spec ${CMAKE_CURRENT_LIST_DIR}/collab_epoch.test.mjs
             WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(server_collab_epoch PROPERTIES
      LABELS "server;wasm" TIMEOUT 120
      ENVIRONMENT "CHORUS_COLLAB_APP=$<TARGET_FILE:chorus-collab-app>;CHORUS_WASM_DIR=${CHORUS_WASM_DIR}")
  endif()
elseif(TARGET chorus_server)
  message(WARNING "server: node or node_modules/socket.io-client missing (run npm ci): server_collab not added")
endif()
