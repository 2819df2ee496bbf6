# Install rules for the launcher, the Docker entrypoint and the docs, and the
# CPack settings for a Debian package. CMakeLists.txt installs the two
# libraries into ${CMAKE_INSTALL_LIBDIR}/swpreload before including this
# file.
#
#   cmake --install build --prefix /opt/swpreload
#   cd build && cpack -G DEB

# The launcher finds the library relative to its own location, so the
# installed copy only needs the version and, when it is a relative path,
# the library directory (lib, lib64 or lib/<multiarch>). An absolute
# CMAKE_INSTALL_LIBDIR cannot be expressed relative to the script; the
# launcher then falls back to its usual search list.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(SW_LAUNCH_LIBDIR "")
else()
  set(SW_LAUNCH_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
endif()
set(SW_LAUNCH_CONFIGURED ${PROJECT_BINARY_DIR}/launch/sw-preload)
configure_file(${PROJECT_SOURCE_DIR}/scripts/sw-preload
  ${SW_LAUNCH_CONFIGURED} @ONLY)

install(PROGRAMS ${SW_LAUNCH_CONFIGURED}
  DESTINATION ${CMAKE_INSTALL_BINDIR})
install(PROGRAMS ${PROJECT_SOURCE_DIR}/scripts/docker-entrypoint.sh
  DESTINATION ${CMAKE_INSTALL_DATADIR}/swpreload)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/launch.md
  DESTINATION ${CMAKE_INSTALL_DOCDIR} OPTIONAL)

# ---------------------------------------------------------------- CPack
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME swpreload)
set(CPACK_PACKAGE_VENDOR "swpreload developers")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "swpreload developers")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "zero-code Apache SkyWalking agent for native Linux processes")
set(CPACK_PACKAGE_DESCRIPTION
  "swpreload is an LD_PRELOAD library that traces the HTTP/1.x traffic of any
dynamically linked Linux program without code changes and reports it to an
Apache SkyWalking OAP over gRPC, HTTP or Kafka. The sw-preload launcher runs
a program with the agent and checks whether a program can be instrumented.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "swpreload developers")
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# dpkg-shlibdeps computes the library dependencies (libc6, libcurl4,
# libprotobuf-c1) from the installed objects. Where it is missing, the same
# list is given by hand.
find_program(SW_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(SW_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  # The two libraries are private (not on the loader's search path); let
  # dpkg-shlibdeps find them in the build tree should one ever link the
  # other (CMake 3.20 and later).
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR})
else()
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "libc6, libcurl4, libprotobuf-c1")
endif()
# readelf is used by "sw-preload doctor"; librdkafka only for the kafka
# protocol.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "binutils")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "librdkafka1")
set(CPACK_SOURCE_IGNORE_FILES "/\\\\.git/;/build[^/]*/")

include(CPack)
