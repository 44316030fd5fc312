#pragma once

#include "domain/clock.hpp"
#include "domain/store.hpp"

namespace invited::domain {

// The event log's background work (SPEC §9), each a small write unit of its own, never part of a
// request. Both run again at once while a pass comes back full, so a backlog drains.

// Records invitation.expired (actor system) for up to `limit` pending invites whose expiry is at
// or before `now` and not yet recorded, oldest expiry first, and marks them recorded in the same
// unit: each expiry is recorded once, whichever instance's sweep sees it. Returns how many.
int record_expired_invites(WriteTx& tx, Instant now, int limit);

// Deletes up to `limit` of the oldest events older than `retention_days` at `now` (the newest
// event of the log always stays). Returns how many went.
int prune_events(EventWriteTx& tx, Instant now, int retention_days, int limit);

}  // namespace invited::domain
