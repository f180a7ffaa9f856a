# Configure-time checks (included by tests/CMakeLists.txt).
#
#  configure_without_node_modules (label "configure"): configures a copy of the source tree
#    that has no node_modules; the configuration must fail, naming the missing packages and
#    the fix (toolchains/setup.sh, npm ci), instead of silently leaving the Node suites out.
add_test(NAME configure_without_node_modules
         COMMAND ${CMAKE_COMMAND}
           -DSOURCE_DIR=${PROJECT_SOURCE_DIR}
           -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/configure_without_node_modules
           -DGENERATOR=${CMAKE_GENERATOR}
           -DCIVETWEB_DIR=${CHORUS_CIVETWEB_DIR}
           -P ${CMAKE_CURRENT_LIST_DIR}/without_node_modules.cmake)
set_tests_properties(configure_without_node_modules PROPERTIES LABELS "configure" TIMEOUT 300)
