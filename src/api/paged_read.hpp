#pragma once

#include <boost/json.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "api/endpoint.hpp"
#include "api/json_io.hpp"
#include "api/views.hpp"
#include "domain/field_errors.hpp"
#include "domain/records.hpp"
#include "http/message.hpp"

namespace invited::api {

// The two forms of a list (SPEC §5), read from the query string: the cursor form when `limit`
// or `starting_after` is given (limit 1..100, default 40; starting_after a UUID), else the page
// form (page_num >= 0, page_size 1..100). Giving parameters of both forms is an error naming
// each of them. Failures are added to `errors`; the result is then meaningless.
domain::ListRequest read_list_request(const http::Request& request, domain::FieldErrors& errors);

// {"<items>": [...], "page_num", "page_size", "total"} for the page form, {"<items>": [...],
// "has_more"} for the cursor form.
boost::json::object list_body(std::string_view items_name, boost::json::array items,
                              const domain::ListRequest& request, std::int64_t total,
                              bool has_more);

// The 400 validation_error of a `starting_after` that names nothing the list can hold;
// `what` says what it must be ("the id of a website of this list").
http::Response unknown_cursor_response(std::string_view what);

// Answers a list endpoint: runs `load(tx, request, result)` (returns a Status; an Error answers
// the request) in one read unit, queued fairly among the organization's reads (Store::read_for),
// then replies with list_body of `render(item)` for every item. A cursor the store could not
// place answers unknown_cursor_response(cursor_what).
template <typename T, typename Load, typename Render>
void reply_with_list(Services& services, const CallPtr& call, domain::ListRequest request,
                     std::string_view items_name, std::string_view cursor_what, Load load,
                     Render render) {
  auto result = std::make_shared<domain::Page<T>>();
  auto shared_request = std::make_shared<domain::ListRequest>(std::move(request));
  services.store.read_for(
      call->principal->org_pk,
      [call, shared_request, result, load = std::move(load)](domain::ReadTx& tx) -> domain::Status {
        *result = {};
        return load(tx, *shared_request, *result);
      },
      [call, shared_request, result, items_name, cursor_what,
       render = std::move(render)](domain::Status status) {
        if (!status) return call->fail(status.error());
        if (result->unknown_cursor) return call->reply(unknown_cursor_response(cursor_what));
        call->reply(200, list_body(items_name, to_json_array(result->items, render),
                                   *shared_request, result->total, result->has_more));
      });
}

}  // namespace invited::api
