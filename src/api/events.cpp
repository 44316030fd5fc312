// GET /api/v1/events and /api/v1/events/{id}: the audit log (SPEC §9). Scoped keys see only
// events that name a website of their allowlist (domain::can_see_event).
#include "domain/events.hpp"

#include <memory>

#include "api/endpoint.hpp"
#include "api/json_io.hpp"
#include "api/routes.hpp"
#include "http/router.hpp"

namespace invited::api {
namespace json = boost::json;
namespace {

json::object actor_json(const domain::Actor& actor) {
  json::object out{{"type", domain::actor_kind_name(actor.kind)}};
  if (actor.kind == domain::Actor::Kind::kApiKey) out["id"] = uuid_json(actor.key_id);
  if (actor.kind == domain::Actor::Kind::kInvitee) out["email"] = actor.email;
  return out;
}

json::object event_json(const domain::Event& event) {
  json::value data;
  boost::system::error_code ec;
  data = json::parse(event.data, ec);
  if (ec) data = json::object{};  // never: the domain writes every event's data
  return json::object{{"id", uuid_json(event.id)},
                      {"type", domain::event_type_name(event.type)},
                      {"occurred_at", timestamp_json(event.occurred_at)},
                      {"actor", actor_json(event.actor)},
                      {"data", std::move(data)}};
}

// Every value of `name` in the query string, percent-decoded, in order (undecodable ones are
// kept as sent, so the type check names them).
std::vector<std::string> query_values(std::string_view query, std::string_view name) {
  std::vector<std::string> values;
  while (!query.empty()) {
    auto end = query.find('&');
    std::string_view pair = query.substr(0, end);
    auto equals = pair.find('=');
    auto key = http::percent_decode(pair.substr(0, equals));
    if (key && *key == name) {
      std::string_view raw = equals == std::string_view::npos ? "" : pair.substr(equals + 1);
      values.push_back(http::percent_decode(raw).value_or(std::string(raw)));
    }
    if (end == std::string_view::npos) break;
    query.remove_prefix(end + 1);
  }
  return values;
}

void list_events(Services& services, const CallPtr& call) {
  const auto& request = call->request;
  domain::EventQueryInput input;
  input.types = query_values(request.query, "type");
  input.limit = request.query_param("limit");
  input.starting_after = request.query_param("starting_after");
  input.ending_before = request.query_param("ending_before");
  input.website_id = request.query_param("website_id");
  input.group_id = request.query_param("group_id");
  input.user_id = request.query_param("user_id");
  input.email = request.query_param("email");
  input.since = request.query_param("since");
  input.until = request.query_param("until");
  domain::FieldErrors errors;
  auto query = domain::validate_event_query(input, *call->principal, errors);
  if (!query) return call->reply(validation_error(errors));

  auto page = std::make_shared<domain::Page<domain::Event>>();
  services.store.read_for(
      call->principal->org_pk,
      [call, query = *query, page](domain::ReadTx& tx) -> domain::Status {
        *page = tx.list_events(call->principal->org_pk, query.filter, query.page);
        return {};
      },
      [call, page, ending = query->page.ending_before.has_value()](domain::Status status) {
        if (!status) return call->fail(status.error());
        if (page->unknown_cursor) {
          domain::FieldErrors cursor;
          cursor.add(ending ? "ending_before" : "starting_after",
                     "must be the id of an event this key can list");
          return call->reply(validation_error(cursor));
        }
        json::array events;
        events.reserve(page->items.size());
        for (const auto& event : page->items) events.push_back(event_json(event));
        call->reply(200, json::object{{"events", std::move(events)}, {"has_more", page->has_more}});
      });
}

void get_event(Services& services, const CallPtr& call) {
  const domain::Error not_found{domain::ErrorCode::kNotFound, "Event not found"};
  auto id = domain::Uuid::parse(call->request.path_params.at(0));
  if (!id) return call->fail(not_found);
  auto event = std::make_shared<std::optional<domain::Event>>();
  services.store.read(
      [call, id = *id, event, not_found](domain::ReadTx& tx) -> domain::Status {
        *event = tx.find_event(call->principal->org_pk, id);
        if (!*event || !domain::can_see_event(*call->principal, **event)) return not_found;
        return {};
      },
      [call, event](domain::Status status) {
        if (!status) return call->fail(status.error());
        call->reply(200, json::object{{"event", event_json(**event)}});
      });
}

}  // namespace

void register_events(http::Router& router, Services& services) {
  router.add(http::Method::kGet, "/api/v1/events",
             api_endpoint(services, Body::kNone, list_events));
  router.add(http::Method::kGet, "/api/v1/events/{id}",
             api_endpoint(services, Body::kNone, get_event));
}

}  // namespace invited::api
