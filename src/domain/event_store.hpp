#pragma once

#include <optional>
#include <span>

#include "domain/events.hpp"

namespace invited::domain {

// Storage of the event log (SPEC §9): one row per event, written in the unit of work that makes
// the change it describes, so an event commits with its change or not at all. Part of a unit of
// work (domain/store.hpp).
//
// The log's order. Every event has a position (xact, pk): on PostgreSQL `xact` is the id of the
// transaction that wrote it (pg_current_xact_id()) and `pk` its row key; on SQLite `xact` is 0
// and `pk` grows in commit order (one writer). Newest first means the highest position first. A
// reader is shown only the prefix of the log that can no longer grow in the middle: on
// PostgreSQL the events of transactions older than the oldest one still in flight
// (pg_snapshot_xmin of the reading statement's snapshot), so an event that commits late never
// appears below one a client has already seen; on SQLite every committed event.
class EventReadTx {
 public:
  virtual ~EventReadTx() = default;

  // The events of `org_pk` that match `filter`, newest first, in the visible prefix (above).
  // The page holds up to request.limit events: those just older than `starting_after`, or just
  // newer than `ending_before` (still newest first), or the newest. has_more: more events match
  // beyond the page in the direction read (older for starting_after or none, newer for
  // ending_before). unknown_cursor: the cursor names no event of the organization (or one this
  // filter's scoped key cannot see).
  virtual Page<Event> list_events(Pk org_pk, const EventFilter& filter,
                                  const EventPageRequest& request) = 0;
  // One event of the organization, visible or not yet in the visible prefix; nullopt if none.
  virtual std::optional<Event> find_event(Pk org_pk, const Uuid& id) = 0;
};

class EventWriteTx : public virtual EventReadTx {
 public:
  // Appends `events` to the log, in order, in the calling unit's transaction (one statement on
  // PostgreSQL however many). The store gives each its id (UUIDv7; on SQLite made on the writer
  // thread, so ids increase in commit order there). The single place an event row is written:
  // whatever else must happen with every event (a webhook delivery per subscribed endpoint)
  // belongs here too.
  virtual void record_events(std::span<const NewEvent> events) = 0;
  void record_event(const NewEvent& event) { record_events(std::span(&event, 1)); }

  // Deletes those of the `limit` oldest events (by row key) that occurred before `before`, never
  // the newest event of the log; looks at no more rows than that, whatever the log's length.
  // Returns how many went.
  virtual int prune_events(UnixSeconds before, int limit) = 0;
};

}  // namespace invited::domain
