# Browser SDK suite (included by tests/CMakeLists.txt): the built SDK (chorus.mjs +
# chorus.wasm from the wasm tree named by CHORUS_WASM_DIR) under node:test.
#
#  sdk_session (label "sdk"): tests/sdk/session.test.mjs in Node against chorus-interop-app
#    over WebSocket, polling, polling -> WebSocket, SSE and SSE -> WebSocket.
#  sdk_session_reference (label "sdk"): the same session against tests/apps/interop_reference.mjs
#    (the official socket.io server; SSE cases skipped: it has no SSE transport).
#  sdk_browser (label "sdk;browser"): tests/sdk/browser.test.mjs, the SDK in headless Chromium
#    (playwright-core + /usr/bin/chromium) against chorus-interop-app.
#  sdk_bad_server (label "sdk"): tests/sdk/bad_server.test.mjs, hostile input from a fake server
#    (and every shape of the SSE event stream format).
#  sdk_recovery (label "sdk"): tests/sdk/recovery.test.mjs, connection state recovery on one
#    chorus-cluster-app node over WebSocket, polling and SSE.
#  sdk_failover (label "sdk"): tests/sdk/failover.test.mjs, recovery across two chorus-cluster-app
#    nodes in streams mode behind a TCP proxy that fails over, on the cluster suite's
#    redis-server (CHORUS_REDIS_SERVER, tests/cluster/tests.cmake).
#  sdk_npm_package (label "sdk;npm;browser"): tests/sdk/npm_package.test.mjs, the npm tarball of the
#    wasm tree's chorus_sdk_package target installed offline into a scratch project, used from
#    Node and from an esbuild-bundled page in Chromium against chorus-server.
#  sdk_runtime (label "sdk"): tests/sdk/runtime.test.mjs, the SDK in a Node process without the
#    `ws` package or a global WebSocket (clear error, polling and SSE still work), with a global
#    WebSocket (used), and bundled by esbuild for the browser (ws stays out).
# Nothing is injected into the SDK: under Node 20 it finds `ws` itself and reads SSE with fetch.
if(NOT CHORUS_WASM_DIR OR NOT CHORUS_NODE_TESTS)
  return()
endif()
# socket.io-client, @socket.io/redis-emitter and redis: the cluster harness failover.test.mjs uses.
chorus_require_node(sdk socket.io ws playwright-core typescript esbuild socket.io-client @socket.io/redis-emitter redis)

set(_sdk_module ${CHORUS_WASM_DIR}/wasm/chorus.mjs)
set(_sdk_dir ${CMAKE_CURRENT_LIST_DIR})

add_test(NAME sdk_session_reference
         COMMAND ${CHORUS_NODE} --test --test-reporter=spec ${_sdk_dir}/session.test.mjs
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(sdk_session_reference PROPERTIES
  LABELS "sdk" TIMEOUT 300 ENVIRONMENT "CHORUS_SDK=${_sdk_module};CHORUS_TARGET=reference")

add_test(NAME sdk_bad_server
         COMMAND ${CHORUS_NODE} --test --test-reporter=spec ${_sdk_dir}/bad_server.test.mjs
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(sdk_bad_server PROPERTIES LABELS "sdk" TIMEOUT 180 ENVIRONMENT "CHORUS_SDK=${_sdk_module}")

if(TARGET chorus-interop-app)
  add_test(NAME sdk_session
           COMMAND ${CHORUS_NODE} --test --test-reporter=spec ${_sdk_dir}/session.test.mjs
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(sdk_session PROPERTIES
    LABELS "sdk" TIMEOUT 300
    ENVIRONMENT "CHORUS_SDK=${_sdk_module};CHORUS_INTEROP_BIN=$<TARGET_FILE:chorus-interop-app>;CHORUS_TARGET=chorus")

  if(TARGET chorus-cluster-app)
    add_test(NAME sdk_recovery
             COMMAND ${CHORUS_NODE} --test --test-reporter=spec ${_sdk_dir}/recovery.test.mjs
             WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(sdk_recovery PROPERTIES
      LABELS "sdk" TIMEOUT 180
      ENVIRONMENT "CHORUS_SDK=${_sdk_module};CHORUS_CLUSTER_APP=$<TARGET_FILE:chorus-cluster-app>")
    add_test(NAME sdk_failover
             COMMAND ${CHORUS_NODE} --test --test-reporter=spec ${_sdk_dir}/failover.test.mjs
             WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(sdk_failover PROPERTIES
      LABELS "sdk" TIMEOUT 180
      ENVIRONMENT "CHORUS_SDK=${_sdk_module};CHORUS_CLUSTER_APP=$<TARGET_FILE:chorus-cluster-app>;CHORUS_REDIS_SERVER=${CHORUS_REDIS_SERVER}")
  endif()

  add_test(NAME sdk_runtime
           COMMAND ${CHORUS_NODE} --test --test-reporter=spec ${_sdk_dir}/runtime.test.mjs
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(sdk_runtime PROPERTIES
    LABELS "sdk" TIMEOUT 180
    ENVIRONMENT "CHORUS_SDK=${_sdk_module};CHORUS_INTEROP_BIN=$<TARGET_FILE:chorus-interop-app>")

  find_program(CHORUS_CHROMIUM NAMES chromium chromium-browser)
  if(NOT CHORUS_CHROMIUM)
    message(FATAL_ERROR "sdk tests: chromium not found: run toolchains/setup.sh")
  endif()
  add_test(NAME sdk_browser
           COMMAND ${CHORUS_NODE} --test --test-reporter=spec ${_sdk_dir}/browser.test.mjs
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(sdk_browser PROPERTIES
    LABELS "sdk;browser" TIMEOUT 300
    ENVIRONMENT "CHORUS_SDK=${_sdk_module};CHORUS_INTEROP_BIN=$<TARGET_FILE:chorus-interop-app>;CHORUS_CHROMIUM=${CHORUS_CHROMIUM}")

  if(TARGET chorus-server)
    find_program(CHORUS_NPM npm)
    if(NOT CHORUS_NPM)
      message(FATAL_ERROR "sdk tests: npm not found: run toolchains/setup.sh")
    endif()
    add_test(NAME sdk_npm_package
             COMMAND ${CHORUS_NODE} --test --test-reporter=spec ${_sdk_dir}/npm_package.test.mjs
             WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(sdk_npm_package PROPERTIES
      LABELS "sdk;npm;browser" TIMEOUT 300
      ENVIRONMENT "CHORUS_SDK=${_sdk_module};CHORUS_SDK_TARBALL=${CHORUS_WASM_DIR}/wasm/npm/chorus-sdk-${PROJECT_VERSION}.tgz;CHORUS_VERSION=${PROJECT_VERSION};CHORUS_NPM=${CHORUS_NPM};CHORUS_SERVER_BIN=$<TARGET_FILE:chorus-server>;CHORUS_CHROMIUM=${CHORUS_CHROMIUM}")
  endif()
endif()

# The hand-written chorus.d.ts, type-checked against socket.io-client style usage.
add_test(NAME sdk_types
         COMMAND ${CHORUS_NODE} ${PROJECT_SOURCE_DIR}/node_modules/typescript/bin/tsc --noEmit --strict --target es2022
                 --module esnext --moduleResolution bundler --lib es2022,dom ${CMAKE_CURRENT_LIST_DIR}/types/usage.ts)
set_tests_properties(sdk_types PROPERTIES LABELS sdk)
