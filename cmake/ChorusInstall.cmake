# `cmake --install`: the headers, the static libraries, chorus-server, the browser SDK (when
# CHORUS_WASM_DIR names the wasm build tree), a CMake package (find_package(Chorus CONFIG):
# Chorus::core, Chorus::server) and a pkg-config file (chorus.pc). Included by the top-level
# CMakeLists.txt after core/ and server/; tests/install/ checks it from outside the tree.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(CHORUS_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/Chorus)
set(CHORUS_PACKAGE_DIR ${PROJECT_BINARY_DIR}/package)  # the generated files, before install

# Headers: core's and the server's share the chorus/ folder.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/core/include/chorus ${PROJECT_SOURCE_DIR}/server/include/chorus
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# The libraries are static: chorus_server's private dependencies (CivetWeb, SQLite, hiredis)
# are link dependencies of every program that uses it, so they are exported too (CivetWeb,
# built here with Chorus's patch, as libchorus_civetweb.a) or found again by ChorusConfig.cmake.
set_target_properties(chorus_core PROPERTIES EXPORT_NAME core)
set_target_properties(chorus_cluster PROPERTIES EXPORT_NAME cluster)
set_target_properties(chorus_civetweb PROPERTIES EXPORT_NAME civetweb)
set_target_properties(chorus_server PROPERTIES EXPORT_NAME server)
install(TARGETS chorus_core chorus_cluster chorus_civetweb chorus_server EXPORT ChorusTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS chorus-server RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# A sanitizer build's archives need the sanitizer runtimes wherever they are linked: the
# installed package says so (Chorus::core's link options, chorus.pc's Libs), so a consumer of
# a CHORUS_SANITIZE install links without flags of its own. Built with the same compiler.
set(CHORUS_SANITIZE_LINK_FLAGS "")
if(CHORUS_SANITIZE)
  set(CHORUS_SANITIZE_LINK_FLAGS "-fsanitize=address,undefined")
  target_link_options(chorus_core INTERFACE $<INSTALL_INTERFACE:${CHORUS_SANITIZE_LINK_FLAGS}>)
endif()

install(EXPORT ChorusTargets NAMESPACE Chorus:: FILE ChorusTargets.cmake DESTINATION ${CHORUS_INSTALL_CMAKEDIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/ChorusConfig.cmake.in
                              ${CHORUS_PACKAGE_DIR}/ChorusConfig.cmake
                              INSTALL_DESTINATION ${CHORUS_INSTALL_CMAKEDIR})
# 0.x: a minor release may break the API.
write_basic_package_version_file(${CHORUS_PACKAGE_DIR}/ChorusConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CHORUS_PACKAGE_DIR}/ChorusConfig.cmake ${CHORUS_PACKAGE_DIR}/ChorusConfigVersion.cmake
        DESTINATION ${CHORUS_INSTALL_CMAKEDIR})

# pkg-config: relocatable (prefix found from the .pc file's own folder), since
# `cmake --install --prefix` chooses the prefix after configuration.
file(RELATIVE_PATH CHORUS_PC_TO_PREFIX /root/${CMAKE_INSTALL_LIBDIR}/pkgconfig /root)
string(REGEX REPLACE "/$" "" CHORUS_PC_TO_PREFIX "${CHORUS_PC_TO_PREFIX}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/chorus.pc.in ${CHORUS_PACKAGE_DIR}/chorus.pc @ONLY)
install(FILES ${CHORUS_PACKAGE_DIR}/chorus.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# The browser SDK, as wasm/sdk.cmake builds it in the wasm tree: serve it with
# `chorus-server --sdk <prefix>/share/chorus/sdk` (at /chorus/).
if(CHORUS_WASM_DIR)
  install(FILES ${CHORUS_WASM_DIR}/wasm/chorus.mjs ${CHORUS_WASM_DIR}/wasm/chorus.mjs.map ${CHORUS_WASM_DIR}/wasm/chorus.wasm
                ${CHORUS_WASM_DIR}/wasm/chorus.d.ts
          DESTINATION ${CMAKE_INSTALL_DATADIR}/chorus/sdk)
endif()
