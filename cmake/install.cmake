# `make install`: headers, both libraries, a CMake package (find_package(edo)) and pkg-config.
include(GNUInstallDirs)
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

configure_file(cmake/edo.pc.in ${PROJECT_BINARY_DIR}/edo.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/edo.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
