# `cmake --install` (`make install`): the headers, both libraries, a CMake package and two
# pkg-config files. Where they go is GNUInstallDirs' (included by the top CMakeLists.txt):
# CMAKE_INSTALL_LIBDIR may be relative (lib, lib64, lib/x86_64-linux-gnu) or absolute.
#
#   <includedir>/edo.h, <includedir>/edo/*.h
#   <libdir>/libedo.a, <libdir>/libedo.so[.0[.0.1.0]]
#   <libdir>/cmake/edo/      find_package(edo): edo::edo (static), edo::edo_shared
#   <libdir>/pkgconfig/      edo.pc (shared), edo-static.pc (static)
#
# Running a program linked with the shared library: CMake gives the programs it builds against
# edo::edo_shared an RPATH to the library in their build tree (installing them is the user's
# project's business: INSTALL_RPATH). pkg-config --libs edo gives -Wl,-rpath,<libdir> unless
# libdir is a directory the toolchain searches anyway (below), so the program starts without
# LD_LIBRARY_PATH or ldconfig wherever edo was installed.
include(CMakePackageConfigHelpers)

install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS edo_static edo_shared EXPORT edoTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT edoTargets NAMESPACE edo:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/edo)

configure_package_config_file(cmake/edoConfig.cmake.in
  ${PROJECT_BINARY_DIR}/edoConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/edo)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/edoConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/edoConfig.cmake ${PROJECT_BINARY_DIR}/edoConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/edo)

# pkg-config. The .pc files are written while installing (cmake/pkgconfig.cmake.in), for the
# prefix installed to: `cmake --install --prefix` may differ from CMAKE_INSTALL_PREFIX, and
# whether the rpath is needed depends on it (EDO_PKGCONFIG_RPATH, in CMakeLists.txt).
# The directories the linker searches without being told: CMake puts no RPATH for them either.
set(EDO_SYSTEM_LIB_DIRS ${CMAKE_PLATFORM_IMPLICIT_LINK_DIRECTORIES} ${CMAKE_C_IMPLICIT_LINK_DIRECTORIES})
list(REMOVE_DUPLICATES EDO_SYSTEM_LIB_DIRS)
# What the static library needs from OpenSSL when edo has TLS: for edo-static.pc (-lssl
# -lcrypto, with -L where OpenSSL is not in a system directory) and for a fully static link
# (pkg-config --static edo: OpenSSL's own private libraries too).
if(EDO_WITH_TLS)
  list(JOIN EDO_OPENSSL_LDFLAGS " " EDO_PC_TLS_LIBS)
  list(JOIN EDO_OPENSSL_STATIC_LDFLAGS " " EDO_PC_TLS_STATIC_LIBS)
  string(APPEND EDO_PC_TLS_LIBS " ")
  string(APPEND EDO_PC_TLS_STATIC_LIBS " ")
else()
  set(EDO_PC_TLS_LIBS "")
  set(EDO_PC_TLS_STATIC_LIBS "")
endif()
set(EDO_ARCHIVE_NAME ${CMAKE_STATIC_LIBRARY_PREFIX}edo${CMAKE_STATIC_LIBRARY_SUFFIX})
configure_file(cmake/pkgconfig.cmake.in ${PROJECT_BINARY_DIR}/edo-pkgconfig-install.cmake @ONLY)
install(SCRIPT ${PROJECT_BINARY_DIR}/edo-pkgconfig-install.cmake)
