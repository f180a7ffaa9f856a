# The installed package (included by tests/CMakeLists.txt; the rules are cmake/ChorusInstall.cmake).
#
#  install (label "install"): tests/install/install_test.sh installs this build tree to a
#    scratch prefix and builds and runs tests/install/consumer outside the tree, with
#    find_package(Chorus) and with pkg-config; with CHORUS_WASM_DIR, the installed
#    chorus-server serves the installed SDK.
find_program(CHORUS_CURL curl)
if(NOT PKG_CONFIG_EXECUTABLE OR NOT CHORUS_CURL)
  message(FATAL_ERROR "install test: pkg-config or curl not found: run toolchains/setup.sh")
endif()
set(_chorus_install_sdk 0)
if(CHORUS_WASM_DIR)
  set(_chorus_install_sdk 1)
endif()
add_test(NAME install
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/install_test.sh ${PROJECT_BINARY_DIR} ${PROJECT_VERSION}
                 ${CMAKE_CXX_COMPILER} ${CMAKE_GENERATOR} ${PKG_CONFIG_EXECUTABLE} ${_chorus_install_sdk})
set_tests_properties(install PROPERTIES LABELS "install" TIMEOUT 300)
