#pragma once

#include <string_view>

namespace invited::app {

// What this binary was built from, fixed at build time (cmake/build_version.cmake): the
// project's version (CMakeLists.txt) and the git commit of the source tree, "unknown" when it was
// built outside a git checkout, with "-dirty" when tracked files differed from that commit.
std::string_view build_version();
std::string_view build_commit();

}  // namespace invited::app
