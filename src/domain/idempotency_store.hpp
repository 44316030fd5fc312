#pragma once

#include <optional>
#include <string_view>

#include "domain/records.hpp"

namespace invited::domain {

// Storage of the responses kept for Idempotency-Key headers: one per (organization, key),
// written in the same unit as the writes it answers. Part of a unit of work (domain/store.hpp).
class IdempotencyReadTx {
 public:
  virtual ~IdempotencyReadTx() = default;

  // The response kept for (`org_pk`, `key`) if it was saved at or after `not_before`.
  virtual std::optional<IdempotentResponse> find_idempotent_response(Pk org_pk,
                                                                     std::string_view key,
                                                                     UnixSeconds not_before) = 0;
};

class IdempotencyWriteTx : public virtual IdempotencyReadTx {
 public:
  // Marks (`org_pk`, `key`) as running in this unit until the unit ends (commit, rollback, or
  // the death of the process running it), for every process serving the database. Returns
  // false, marking nothing, while another unit holds the mark: that request is still running.
  // Call it before reading the kept response, so that a unit holding the mark is the only one
  // that can keep one. (A backend with one writer runs units one at a time: always true.)
  virtual bool mark_idempotency_key_running(Pk org_pk, std::string_view key) = 0;
  // Keeps `response` for (`org_pk`, `key`) in this unit, so that it commits with the writes it
  // answers or not at all; one kept before `not_before` (expired) is replaced. Returns false and
  // keeps nothing when a response saved at or after `not_before` is kept already: another unit
  // claimed the key first. (A backend with concurrent writers makes this wait for a unit that
  // holds the key to finish; its unique (org, key) constraint decides, never a prior read.)
  virtual bool save_idempotent_response(Pk org_pk, std::string_view key,
                                        const IdempotentResponse& response,
                                        UnixSeconds not_before) = 0;
  // Deletes up to `limit` kept responses saved before `not_before`, oldest first; returns how
  // many it deleted.
  virtual int prune_idempotent_responses(UnixSeconds not_before, int limit) = 0;
};

}  // namespace invited::domain
