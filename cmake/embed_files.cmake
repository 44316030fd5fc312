# Writes OUTPUT: a C++ file defining `std::string_view invited::<NAMESPACE>::<FUNCTION>(name)`,
# which returns the text of DIR/<name> for every file in DIR matching PATTERN (default: all),
# and empty for an unknown name. Run at build time so editing a file rebuilds.
if(NOT PATTERN)
  set(PATTERN "*")
endif()
file(GLOB paths "${DIR}/${PATTERN}")
list(SORT paths)
set(body "")
foreach(path IN LISTS paths)
  get_filename_component(name "${path}" NAME)
  file(READ "${path}" text)
  string(APPEND body "  if (name == \"${name}\") return R\"invited_file(${text})invited_file\";\n")
endforeach()
set(content "// Generated from ${DIR} by cmake/embed_files.cmake. Do not edit.
#include <string_view>

namespace invited::${NAMESPACE} {

std::string_view ${FUNCTION}(std::string_view name) {
${body}  return {};
}

}  // namespace invited::${NAMESPACE}
")
file(WRITE "${OUTPUT}.tmp" "${content}")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
