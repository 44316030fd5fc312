# `cmake --install` and `make package` (CPack, a Debian package): the binary, the systemd unit,
# the environment file and the docs (README.md, "Installing the package").
include(GNUInstallDirs)
install(TARGETS invited RUNTIME DESTINATION bin)
install(FILES README.md DESTINATION share/doc/invited)
install(FILES docs/api.md docs/architecture.md docs/contract.md docs/postgres.md docs/openapi.json
        DESTINATION share/doc/invited/docs)
install(CODE "set(SOURCE_DIR \"${CMAKE_CURRENT_SOURCE_DIR}\")
set(BINARY_DIR \"${CMAKE_CURRENT_BINARY_DIR}\")")
install(SCRIPT cmake/install_service_files.cmake)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME invited)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "invited maintainers <invited@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "membership and invitation service")
set(CPACK_PACKAGE_DESCRIPTION
    "invited invites people to websites and groups of websites by email or directly, over a JSON API, with an embedded SQLite store or PostgreSQL. Runs as the systemd service invited.")
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/package)
# The unit and the environment file name the prefix: CPack installs with DESTDIR into its staging
# folder and the prefix the package installs to.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_STRIP_FILES ON)
# dpkg keeps an operator's edits of the environment file across upgrades.
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/packaging/conffiles "/etc/default/invited\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_BINARY_DIR}/packaging/conffiles ${CMAKE_CURRENT_SOURCE_DIR}/packaging/postinst
    ${CMAKE_CURRENT_SOURCE_DIR}/packaging/prerm ${CMAKE_CURRENT_SOURCE_DIR}/packaging/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
