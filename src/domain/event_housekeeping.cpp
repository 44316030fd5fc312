#include "domain/event_housekeeping.hpp"

#include <vector>

namespace invited::domain {

int record_expired_invites(WriteTx& tx, Instant now, int limit) {
  const std::vector<InviteRecord> expired = tx.take_expired_invites(now.seconds(), limit);
  std::vector<NewEvent> events;
  events.reserve(expired.size());
  for (const InviteRecord& invite : expired) {
    events.push_back(invite_event(EventType::kInvitationExpired, invite.org_pk, invite,
                                  Actor::system(), now.seconds()));
  }
  tx.record_events(events);
  return static_cast<int>(expired.size());
}

int prune_events(EventWriteTx& tx, Instant now, int retention_days, int limit) {
  return tx.prune_events(now.seconds() - static_cast<UnixSeconds>(retention_days) * 86400, limit);
}

}  // namespace invited::domain
