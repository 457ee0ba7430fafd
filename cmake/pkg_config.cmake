# rmpi.pc for pkg-config users: relocatable (paths from the .pc file's own directory).
# The libraries are static, so their dependencies (libcrypto, hwloc) are public requirements.
file(RELATIVE_PATH RMPI_PC_PREFIX_FROM_PCFILEDIR
  "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
set(RMPI_PC_REQUIRES_HWLOC "")
if(RMPI_PACKAGE_NEEDS_HWLOC)
  set(RMPI_PC_REQUIRES_HWLOC " hwloc")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/rmpi.pc.in ${PROJECT_BINARY_DIR}/rmpi.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/rmpi.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
