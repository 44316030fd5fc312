# Installs the systemd unit and the environment file, run by `cmake --install` and by CPack at
# install time, when the prefix is known (CMAKE_INSTALL_PREFIX; DESTDIR is honoured by
# file(INSTALL)). Needs SOURCE_DIR and BINARY_DIR, set by the install(CODE) before it.
# The prefix /usr (the Debian package) keeps its configuration in /etc; any other prefix in
# PREFIX/etc, as GNUInstallDirs does.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(etc "/etc")
else()
  set(etc "${CMAKE_INSTALL_PREFIX}/etc")
endif()
set(INVITED_BINARY "${CMAKE_INSTALL_PREFIX}/bin/invited")
set(INVITED_ENVIRONMENT_FILE "${etc}/default/invited")
set(INVITED_DOC_DIR "${CMAKE_INSTALL_PREFIX}/share/doc/invited")
configure_file("${SOURCE_DIR}/packaging/invited.service.in" "${BINARY_DIR}/packaging/invited.service"
               @ONLY)
file(INSTALL DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system" TYPE FILE
     FILES "${BINARY_DIR}/packaging/invited.service")
# Read by systemd (as root) before the service starts; it may hold passwords.
file(INSTALL DESTINATION "${etc}/default" TYPE FILE RENAME invited
     PERMISSIONS OWNER_READ OWNER_WRITE FILES "${SOURCE_DIR}/packaging/invited.default")
