// The event log topic (domain/event_store.hpp). Writers run concurrently here, so row keys and
// ids are not commit order. Each event carries its transaction's id (`xact`); the log's order is
// (xact, pk), and a list shows only events of transactions older than the oldest one still in
// flight (the xmin of the statement's own snapshot): that prefix of the log only ever grows at
// its newest end, so a client polling with ending_before never skips an event that commits late.
#include <limits>

#include "domain/clock.hpp"
#include "store/list_reading.hpp"
#include "store/postgres/transaction.hpp"

namespace invited::store::postgres {

using domain::Pk;
using domain::Uuid;

namespace {

// $1 org, $4 types (int8[], empty for any), $5 website id, $6 group id, $7 user id, $8 email
// key, $9 since, $10 until, $11 scoped key. The horizon: events of transactions still in flight,
// or younger than one still in flight, are not shown yet.
#define INVITED_EVENT_FILTERS                                                         \
  "AND e.xact < pg_snapshot_xmin(pg_current_snapshot())::text::int8 "                 \
  "AND (cardinality($4::int8[]) = 0 OR e.type = ANY ($4::int8[])) "                   \
  "AND ($5::uuid IS NULL OR e.website_pk = "                                          \
  "     (SELECT pk FROM websites WHERE id = $5::uuid AND org_pk = $1)) "              \
  "AND ($6::uuid IS NULL OR e.group_pk = "                                            \
  "     (SELECT pk FROM website_groups WHERE id = $6::uuid AND org_pk = $1)) "        \
  "AND ($7::uuid IS NULL OR e.user_pk = (SELECT pk FROM users WHERE id = $7::uuid)) " \
  "AND ($8::text IS NULL OR e.email_key = $8::text) "                                 \
  "AND ($9::int8 IS NULL OR e.occurred_at >= $9::int8) "                              \
  "AND ($10::int8 IS NULL OR e.occurred_at < $10::int8) "                             \
  "AND ($11::int8 IS NULL OR e.website_pk IN "                                        \
  "     (SELECT website_pk FROM api_key_websites WHERE key_pk = $11::int8)) "

#define INVITED_EVENT_COLUMNS                                                               \
  "SELECT e.pk, e.id, e.type, e.occurred_at, e.actor_type, e.actor_key_id, e.actor_email, " \
  "e.website_pk, e.data FROM events e "

domain::Event read_event(const Result& rows, int row) {
  domain::Event event;
  event.pk = rows.int64(row, 0);
  event.id = rows.uuid(row, 1);
  event.type = static_cast<domain::EventType>(rows.int64(row, 2));
  event.occurred_at = rows.int64(row, 3);
  event.actor.kind = static_cast<domain::Actor::Kind>(rows.int64(row, 4));
  if (auto key = rows.optional_uuid(row, 5)) event.actor.key_id = *key;
  if (auto email = rows.optional_text(row, 6)) event.actor.email = std::move(*email);
  event.website_pk = rows.optional_int64(row, 7);
  event.data = rows.text(row, 8);
  return event;
}

}  // namespace

void Transaction::record_events(std::span<const domain::NewEvent> events) {
  // Every event of the unit in one statement. Absent values travel as 0, the nil uuid or ''.
  static constexpr Statement kInsert{
      "events_record",
      "WITH recorded AS (INSERT INTO events(id, org_pk, xact, type, occurred_at, actor_type, "
      "  actor_key_id, actor_email, website_pk, group_pk, user_pk, email_key, data) "
      "SELECT e.id, e.org, pg_current_xact_id()::text::int8, e.type, e.at, e.actor, "
      "  NULLIF(e.key, '00000000-0000-0000-0000-000000000000'::uuid), NULLIF(e.email, ''), "
      "  NULLIF(e.w, 0), NULLIF(e.g, 0), NULLIF(e.u, 0), NULLIF(e.ek, ''), e.data "
      "FROM unnest($1::uuid[], $2::int8[], $3::int8[], $4::int8[], $5::int8[], $6::uuid[], "
      "  $7::text[], $8::int8[], $9::int8[], $10::int8[], $11::text[], $12::text[]) "
      "  WITH ORDINALITY AS e(id, org, type, at, actor, key, email, w, g, u, ek, data, n) "
      "ORDER BY e.n RETURNING pk, id, org_pk) "
      // A delivery per enabled endpoint of the organization subscribed to the event's type
      // ($13: the types' names), due at once ($14, the service's clock): store/*/webhooks.cpp.
      "INSERT INTO webhook_deliveries(endpoint_pk, event_pk, state, attempts, next_attempt_ms, "
      "  created_at) "
      "SELECT w.pk, r.pk, 0, 0, $14, $14 / 1000 FROM recorded r "
      "JOIN unnest($1::uuid[], $13::text[]) AS t(id, name) ON t.id = r.id "
      "JOIN webhook_endpoints w ON w.org_pk = r.org_pk AND w.enabled AND (w.event_types = '' "
      "  OR strpos(w.event_types, ' ' || t.name || ' ') > 0 "
      "  OR strpos(w.event_types, ' ' || split_part(t.name, '.', 1) || '.* ') > 0)"};
  if (events.empty()) return;
  std::vector<Uuid> ids, keys;
  std::vector<std::int64_t> orgs, types, ats, actors, websites, groups, users;
  std::vector<std::string> emails, email_keys, data, type_names;
  const std::int64_t now_ms = domain::now().unix_ms;
  for (const domain::NewEvent& event : events) {
    ids.push_back(Uuid::v7(now_ms));
    orgs.push_back(event.org_pk);
    types.push_back(static_cast<int>(event.type));
    type_names.emplace_back(domain::event_type_name(event.type));
    ats.push_back(event.occurred_at);
    actors.push_back(static_cast<int>(event.actor.kind));
    keys.push_back(event.actor.kind == domain::Actor::Kind::kApiKey ? event.actor.key_id : Uuid());
    emails.push_back(event.actor.kind == domain::Actor::Kind::kInvitee ? event.actor.email
                                                                       : std::string());
    websites.push_back(event.website_pk.value_or(0));
    groups.push_back(event.group_pk.value_or(0));
    users.push_back(event.user_pk.value_or(0));
    email_keys.push_back(event.email_key);
    data.push_back(event.data);
  }
  db_.query(kInsert, Params()
                         .add(ids)
                         .add(orgs)
                         .add(types)
                         .add(ats)
                         .add(actors)
                         .add(keys)
                         .add(emails)
                         .add(websites)
                         .add(groups)
                         .add(users)
                         .add(email_keys)
                         .add(data)
                         .add(type_names)
                         .add(now_ms));
}

int Transaction::prune_events(domain::UnixSeconds before, int limit) {
  static constexpr Statement kPrune{
      "events_prune",
      "DELETE FROM events WHERE pk IN (SELECT pk FROM events ORDER BY pk LIMIT $2) "
      "AND occurred_at < $1 AND pk < (SELECT max(pk) FROM events)"};
  return static_cast<int>(db_.query(kPrune, Params().add(before).add(limit)).affected());
}

std::optional<domain::Event> Transaction::find_event(Pk org_pk, const Uuid& id) {
  static constexpr Statement kFind{"events_find",
                                   INVITED_EVENT_COLUMNS "WHERE e.id = $1 AND e.org_pk = $2"};
  Result rows = db_.query(kFind, Params().add(id).add(org_pk));
  if (rows.rows() == 0) return std::nullopt;
  return read_event(rows, 0);
}

domain::Page<domain::Event> Transaction::list_events(Pk org_pk, const domain::EventFilter& filter,
                                                     const domain::EventPageRequest& request) {
  // ($2, $3) the cursor's position, $12 limit + 1.
  static constexpr Statement kOlder{
      "events_list_older", INVITED_EVENT_COLUMNS
      "WHERE e.org_pk = $1 AND (e.xact, e.pk) < ($2::int8, $3::int8) " INVITED_EVENT_FILTERS
      "ORDER BY e.xact DESC, e.pk DESC LIMIT $12"};
  static constexpr Statement kNewer{
      "events_list_newer", INVITED_EVENT_COLUMNS
      "WHERE e.org_pk = $1 AND (e.xact, e.pk) > ($2::int8, $3::int8) " INVITED_EVENT_FILTERS
      "ORDER BY e.xact, e.pk LIMIT $12"};
  static constexpr Statement kLocate{
      "events_locate",
      "SELECT xact, pk FROM events WHERE id = $1 AND org_pk = $2 AND ($3::int8 IS NULL OR "
      "website_pk IN (SELECT website_pk FROM api_key_websites WHERE key_pk = $3::int8))"};
  domain::Page<domain::Event> page;
  std::int64_t xact = std::numeric_limits<std::int64_t>::max();
  std::int64_t pk = std::numeric_limits<std::int64_t>::max();
  const bool newer = request.ending_before.has_value();
  if (const auto& cursor = newer ? request.ending_before : request.starting_after) {
    Result at = db_.query(kLocate, Params().add(*cursor).add(org_pk).add(filter.scoped_key_pk));
    if (at.rows() == 0) {
      page.unknown_cursor = true;
      return page;
    }
    xact = at.int64(0, 0);
    pk = at.int64(0, 1);
  }
  std::vector<std::int64_t> types;
  for (auto type : filter.types) types.push_back(static_cast<int>(type));
  Result rows = db_.query(newer ? kNewer : kOlder, Params()
                                                       .add(org_pk)
                                                       .add(xact)
                                                       .add(pk)
                                                       .add(types)
                                                       .add(filter.website_id)
                                                       .add(filter.group_id)
                                                       .add(filter.user_id)
                                                       .add(filter.email_key)
                                                       .add(filter.since)
                                                       .add(filter.until)
                                                       .add(filter.scoped_key_pk)
                                                       .add(request.limit + 1));
  for (int row = 0; row < rows.rows(); ++row) page.items.push_back(read_event(rows, row));
  end_cursor_page(page, request.limit, newer);
  return page;
}

#undef INVITED_EVENT_FILTERS
#undef INVITED_EVENT_COLUMNS

}  // namespace invited::store::postgres
