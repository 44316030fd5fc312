#pragma once

#include <memory>
#include <string_view>

#include "api/endpoint.hpp"
#include "api/json_io.hpp"
#include "api/views.hpp"

namespace invited::api {

// Answers a list endpoint: runs `load(tx, page, result)` (returns a Status; an Error answers the
// request) in one read unit, then replies {"<items_name>": [render(item)...], "page_num",
// "page_size", "total"}.
template <typename T, typename Load, typename Render>
void reply_with_page(Services& services, const CallPtr& call, domain::PageRequest page,
                     std::string_view items_name, Load load, Render render) {
  auto result = std::make_shared<domain::Page<T>>();
  services.store.read(
      [call, page, result, load = std::move(load)](domain::ReadTx& tx) -> domain::Status {
        return load(tx, page, *result);
      },
      [call, page, result, items_name, render = std::move(render)](domain::Status status) {
        if (!status) return call->fail(status.error());
        call->reply(
            200, page_body(items_name, to_json_array(result->items, render), page, result->total));
      });
}

}  // namespace invited::api
