#pragma once

#include <string_view>

namespace invited::web {

// The text of src/web/templates/<name>, compiled into the binary; empty for an unknown name.
std::string_view template_text(std::string_view name);

}  // namespace invited::web
