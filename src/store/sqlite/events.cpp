// The event log topic (domain/event_store.hpp). On SQLite one writer commits at a time, so the
// row key grows in commit order and every committed event is in the visible prefix; `xact` is
// always 0. Ids are made here, on the writer thread, so they grow in commit order too.
#include <limits>
#include <string>

#include "domain/clock.hpp"
#include "store/list_reading.hpp"
#include "store/sqlite/transaction.hpp"

namespace invited::store::sqlite {

using domain::Pk;
using domain::Uuid;

namespace {

// The filters of every list statement. ?1 org, ?4 the types as ",1,2," ('' for any),
// ?5 website id, ?6 group id, ?7 user id, ?8 email key, ?9 since, ?10 until, ?11 scoped key.
#define INVITED_EVENT_FILTERS                                                                   \
  "AND (?4 = '' OR instr(?4, ',' || e.type || ',') > 0) "                                       \
  "AND (?5 IS NULL OR e.website_pk = (SELECT pk FROM websites WHERE id = ?5 AND org_pk = ?1)) " \
  "AND (?6 IS NULL OR e.group_pk = (SELECT pk FROM website_groups WHERE id = ?6 AND org_pk = "  \
  "?1)) "                                                                                       \
  "AND (?7 IS NULL OR e.user_pk = (SELECT pk FROM users WHERE id = ?7)) "                       \
  "AND (?8 IS NULL OR e.email_key = ?8) "                                                       \
  "AND (?9 IS NULL OR e.occurred_at >= ?9) "                                                    \
  "AND (?10 IS NULL OR e.occurred_at < ?10) "                                                   \
  "AND (?11 IS NULL OR e.website_pk IN "                                                        \
  "     (SELECT website_pk FROM api_key_websites WHERE key_pk = ?11)) "

#define INVITED_EVENT_COLUMNS                                                               \
  "SELECT e.pk, e.id, e.type, e.occurred_at, e.actor_type, e.actor_key_id, e.actor_email, " \
  "e.website_pk, e.data FROM events e INDEXED BY events_in_order "

domain::Event read_event(const Cursor& row) {
  domain::Event event;
  event.pk = row.int64(0);
  event.id = row.uuid(1);
  event.type = static_cast<domain::EventType>(row.int64(2));
  event.occurred_at = row.int64(3);
  event.actor.kind = static_cast<domain::Actor::Kind>(row.int64(4));
  if (!row.is_null(5)) event.actor.key_id = row.uuid(5);
  if (auto email = row.optional_text(6)) event.actor.email = std::move(*email);
  event.website_pk = row.optional_int64(7);
  event.data = row.text(8);
  return event;
}

std::string types_list(const std::vector<domain::EventType>& types) {
  if (types.empty()) return {};
  std::string list = ",";
  for (auto type : types) list += std::to_string(static_cast<int>(type)) + ",";
  return list;
}

}  // namespace

void Transaction::record_events(std::span<const domain::NewEvent> events) {
  static constexpr const char* kInsert =
      "INSERT INTO events(id, org_pk, type, occurred_at, actor_type, actor_key_id, actor_email, "
      "website_pk, group_pk, user_pk, email_key, data) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) RETURNING pk";
  for (const domain::NewEvent& event : events) {
    const Uuid id = Uuid::v7(domain::now().unix_ms);  // bound without a copy: outlives the step
    auto row = db_.query(kInsert);
    row.bind(1, id)
        .bind(2, event.org_pk)
        .bind(3, static_cast<int>(event.type))
        .bind(4, event.occurred_at)
        .bind(5, static_cast<int>(event.actor.kind));
    if (event.actor.kind == domain::Actor::Kind::kApiKey) {
      row.bind(6, event.actor.key_id);
    } else {
      row.bind_null(6);
    }
    if (event.actor.kind == domain::Actor::Kind::kInvitee) {
      row.bind(7, event.actor.email);
    } else {
      row.bind_null(7);
    }
    row.bind(8, event.website_pk).bind(9, event.group_pk).bind(10, event.user_pk);
    if (event.email_key.empty()) {
      row.bind_null(11);
    } else {
      row.bind(11, event.email_key);
    }
    row.bind(12, event.data);
    row.step();
    queue_webhook_deliveries(event, row.int64(0));
  }
}

int Transaction::prune_events(domain::UnixSeconds before, int limit) {
  // The newest event stays, so the row key never starts again below a cursor a client holds.
  static constexpr const char* kPrune =
      "DELETE FROM events WHERE pk IN (SELECT pk FROM events ORDER BY pk LIMIT ?2) "
      "AND occurred_at < ?1 AND pk < (SELECT max(pk) FROM events)";
  return db_.query(kPrune).bind(1, before).bind(2, limit).execute();
}

std::optional<domain::Event> Transaction::find_event(Pk org_pk, const Uuid& id) {
  static constexpr const char* kFind =
      "SELECT e.pk, e.id, e.type, e.occurred_at, e.actor_type, e.actor_key_id, e.actor_email, "
      "e.website_pk, e.data FROM events e WHERE e.id = ?1 AND e.org_pk = ?2";
  auto row = db_.query(kFind);
  row.bind(1, id).bind(2, org_pk);
  if (!row.step()) return std::nullopt;
  return read_event(row);
}

domain::Page<domain::Event> Transaction::list_events(Pk org_pk, const domain::EventFilter& filter,
                                                     const domain::EventPageRequest& request) {
  // (?2, ?3) the cursor's position, ?12 limit + 1.
  static constexpr const char* kOlder = INVITED_EVENT_COLUMNS
      "WHERE e.org_pk = ?1 AND (e.xact, e.pk) < (?2, ?3) " INVITED_EVENT_FILTERS
      "ORDER BY e.xact DESC, e.pk DESC LIMIT ?12";
  static constexpr const char* kNewer = INVITED_EVENT_COLUMNS
      "WHERE e.org_pk = ?1 AND (e.xact, e.pk) > (?2, ?3) " INVITED_EVENT_FILTERS
      "ORDER BY e.xact, e.pk LIMIT ?12";
  static constexpr const char* kLocate =
      "SELECT xact, pk FROM events WHERE id = ?1 AND org_pk = ?2 AND (?3 IS NULL OR website_pk IN "
      "(SELECT website_pk FROM api_key_websites WHERE key_pk = ?3))";
  domain::Page<domain::Event> page;
  std::int64_t xact = std::numeric_limits<std::int64_t>::max();
  std::int64_t pk = std::numeric_limits<std::int64_t>::max();
  const bool newer = request.ending_before.has_value();
  if (const auto& cursor = newer ? request.ending_before : request.starting_after) {
    auto row = db_.query(kLocate);
    row.bind(1, *cursor).bind(2, org_pk).bind(3, filter.scoped_key_pk);
    if (!row.step()) {
      page.unknown_cursor = true;
      return page;
    }
    xact = row.int64(0);
    pk = row.int64(1);
  }
  const std::string types = types_list(filter.types);
  auto rows = db_.query(newer ? kNewer : kOlder);
  rows.bind(1, org_pk).bind(2, xact).bind(3, pk).bind(4, types);
  auto bind_id = [&](int index, const std::optional<Uuid>& id) {
    if (id) {
      rows.bind(index, *id);
    } else {
      rows.bind_null(index);
    }
  };
  bind_id(5, filter.website_id);
  bind_id(6, filter.group_id);
  bind_id(7, filter.user_id);
  if (filter.email_key) {
    rows.bind(8, *filter.email_key);
  } else {
    rows.bind_null(8);
  }
  rows.bind(9, filter.since).bind(10, filter.until).bind(11, filter.scoped_key_pk);
  rows.bind(12, request.limit + 1);
  while (rows.step()) page.items.push_back(read_event(rows));
  end_cursor_page(page, request.limit, newer);
  return page;
}

#undef INVITED_EVENT_FILTERS
#undef INVITED_EVENT_COLUMNS

}  // namespace invited::store::sqlite
