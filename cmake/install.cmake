# install.cmake - what `cmake --install` puts where (GNUInstallDirs), included last from the
# top-level CMakeLists.txt:
#   bin/floe, bin/floe-vault
#   lib/libfloe.so.0 (+ the libfloe.so link), lib/libfloe.a
#   include/floe/*.h
#   lib/pkgconfig/floe.pc                        (relocatable unless FLOE_PKGCONFIG_RELOCATABLE=OFF)
#   lib/cmake/floe/                              (find_package(floe): floe::floe, and
#                                                 floe::floe_static with COMPONENTS static)
#   share/man/man1/floe.1, share/man/man8/floe-vault.8
#   share/bash-completion/completions/floe, share/zsh/site-functions/_floe
#   lib/systemd/system/floe-vault.service, floe-backup@.service, floe-backup@.timer
# Unit files carry the configured bindir, so set CMAKE_INSTALL_PREFIX when configuring (not
# only at `cmake --install --prefix`) if the units are to be used.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(FLOE_BASH_COMPLETION_DIR "${CMAKE_INSTALL_DATADIR}/bash-completion/completions" CACHE STRING
    "Where the bash completion for floe goes (relative to the prefix, or absolute)")
set(FLOE_ZSH_COMPLETION_DIR "${CMAKE_INSTALL_DATADIR}/zsh/site-functions" CACHE STRING
    "Where the zsh completion _floe goes (Debian: share/zsh/vendor-completions)")
set(FLOE_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING
    "Where the systemd units go (relative to the prefix, or absolute)")
set(FLOE_CMAKE_PACKAGE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/floe")

# ---- programs and libraries ----
install(TARGETS floe floe-vault RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The library targets name include/ by its absolute source path; an installed target must name
# the installed include dir instead.
foreach(t floe_shared floe_static)
  set_property(TARGET ${t} PROPERTY INTERFACE_INCLUDE_DIRECTORIES
               "$<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>"
               "$<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>")
endforeach()
# libfloe.so's dependencies are its own business (no public header includes curl, jansson,
# liburing, xxhash or OpenSSL): a program linking floe::floe needs only libfloe.so. They stay
# in the build tree's interface, which nothing links against today.
get_target_property(_floe_shared_iface floe_shared INTERFACE_LINK_LIBRARIES)
set_property(TARGET floe_shared PROPERTY INTERFACE_LINK_LIBRARIES
             "$<BUILD_INTERFACE:${_floe_shared_iface}>")
set_target_properties(floe_shared PROPERTIES EXPORT_NAME floe)
set_target_properties(floe_static PROPERTIES EXPORT_NAME floe_static)

# libfloe.so.0.1.0, its SONAME link libfloe.so.0, and libfloe.so for linking (libfloe-dev)
install(TARGETS floe_shared EXPORT floeTargets LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS floe_static EXPORT floeStaticTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/floe DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")

# ---- pkg-config ----
# By default floe.pc finds its prefix relative to itself (${pcfiledir}), so a tree installed
# with DESTDIR or `cmake --install --prefix` works with PKG_CONFIG_PATH pointing into it.
# Distribution packages (debian/rules) turn that off for plain absolute paths.
option(FLOE_PKGCONFIG_RELOCATABLE "floe.pc: paths relative to the .pc file" ON)
set(FLOE_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
if(FLOE_PKGCONFIG_RELOCATABLE AND NOT IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  file(RELATIVE_PATH _floe_pc_to_prefix
       "/floe-prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/floe-prefix")
  string(REGEX REPLACE "/$" "" _floe_pc_to_prefix "${_floe_pc_to_prefix}")
  set(FLOE_PC_PREFIX "\${pcfiledir}/${_floe_pc_to_prefix}")
endif()
foreach(d LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${d}}")
    set(FLOE_PC_${d} "${CMAKE_INSTALL_${d}}")
  else()
    set(FLOE_PC_${d} "\${prefix}/${CMAKE_INSTALL_${d}}")
  endif()
endforeach()
configure_file(${CMAKE_CURRENT_LIST_DIR}/floe.pc.in ${PROJECT_BINARY_DIR}/floe.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/floe.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# ---- CMake package: find_package(floe [VERSION] [COMPONENTS static]) ----
install(EXPORT floeTargets NAMESPACE floe:: DESTINATION ${FLOE_CMAKE_PACKAGE_DIR})
install(EXPORT floeStaticTargets NAMESPACE floe:: DESTINATION ${FLOE_CMAKE_PACKAGE_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/floeConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/floeConfig.cmake
                              INSTALL_DESTINATION ${FLOE_CMAKE_PACKAGE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/floeConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/floeConfig.cmake ${PROJECT_BINARY_DIR}/floeConfigVersion.cmake
        DESTINATION ${FLOE_CMAKE_PACKAGE_DIR})

# ---- manual pages: hand-written roff, checked against --help by CTest install_man_sync ----
install(FILES ${PROJECT_SOURCE_DIR}/man/floe.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${PROJECT_SOURCE_DIR}/man/floe-vault.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)

# ---- shell completions (read the programs' --help at completion time) ----
# bash-completion loads a completion by command name: the one file serves both programs.
install(FILES ${PROJECT_SOURCE_DIR}/completions/floe.bash DESTINATION ${FLOE_BASH_COMPLETION_DIR}
        RENAME floe)
install(FILES ${PROJECT_SOURCE_DIR}/completions/floe.bash DESTINATION ${FLOE_BASH_COMPLETION_DIR}
        RENAME floe-vault)
install(FILES ${PROJECT_SOURCE_DIR}/completions/_floe DESTINATION ${FLOE_ZSH_COMPLETION_DIR})

# ---- systemd units (carry the configured bindir and sysconfdir) and their examples ----
foreach(unit floe-vault.service floe-backup@.service)
  configure_file(${PROJECT_SOURCE_DIR}/systemd/${unit}.in ${PROJECT_BINARY_DIR}/systemd/${unit} @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/systemd/${unit} DESTINATION ${FLOE_SYSTEMD_UNIT_DIR})
endforeach()
install(FILES ${PROJECT_SOURCE_DIR}/systemd/floe-backup@.timer DESTINATION ${FLOE_SYSTEMD_UNIT_DIR})
install(FILES ${PROJECT_SOURCE_DIR}/systemd/floe-backup.env ${PROJECT_SOURCE_DIR}/systemd/floe-vault.default
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
