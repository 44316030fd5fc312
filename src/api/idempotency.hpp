#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "domain/principal.hpp"
#include "domain/sealing.hpp"
#include "domain/store.hpp"
#include "http/message.hpp"

namespace invited::api {

// Idempotency-Key on POST (SPEC §6). The same key with the same method, path and body within
// 24 hours replays the kept response with `idempotent-replayed: true`; the same key with
// another request is 409 idempotency_key_reused; while the first is still running, 409
// idempotency_key_in_use. Keys belong to an organization. Only successful (2xx) responses are
// kept: a failed request wrote nothing, so retrying it with the same key simply runs it again.
//
// A request is identified by the API key that sends it, its method, path and body: the same
// Idempotency-Key sent by another key of the organization is another request (409 reused).
//
// Exactly once, across crashes and processes: the key is claimed and the response kept in the
// request's own unit of work (`write_keyed` below), so the kept response commits with the
// writes it answers or neither does. The database decides, never this process's memory: the
// kept row's primary key (organization, key) admits one response, and a unit that finds it
// replays instead of running. "Still running" is known to the database too: the unit first
// marks the key as running (mark_idempotency_key_running, held until the unit ends, dropped
// when the process running it dies), so a request on another instance meanwhile gets 409
// idempotency_key_in_use at once, and a retry after a crash runs the moment the dead unit is
// rolled back. The in-process set of running keys only answers a second request on the same
// process without a round trip.

// The Idempotency-Key of one POST that found no kept response before it ran: what its unit of
// work needs to claim the key and keep its answer.
struct IdempotentRequest {
  domain::Pk org_pk = 0;
  std::string key;
  // SHA-256 of the API key's id, method, path and body: what makes two requests "the same".
  domain::SecretHash request_hash{};
  // Kept bodies are sealed under this key, derived from the caller's API key secret (which is
  // stored only as a hash): a copy of the database reveals neither the secret of a key created
  // with an Idempotency-Key nor anything else a kept response says.
  domain::SealKey seal_key{};
};
using IdempotentRequestPtr = std::shared_ptr<const IdempotentRequest>;

// A request's answer from the status its unit of work ended with: the success response when it
// is ok (the unit committed), the error response otherwise (the unit rolled back).
using RenderResponse = std::function<http::Response(const domain::Status&)>;

// Runs `work` as the unit of work of the keyed request `keyed` and answers through `respond`.
// Inside the unit, before `work`: the key is marked running, or, when a unit of another process
// runs it now, the answer is 409 idempotency_key_in_use; a response kept for the key within 24
// hours is replayed (same request) or refused 409 idempotency_key_reused (another request), and
// the unit writes nothing.
// Otherwise `work` runs; if it succeeds, `render` builds the response inside the unit (on the
// store's writer thread: it must only read what `work` captured) and a 2xx is saved in the same
// unit, so the answer and the writes commit together. A failing `work` rolls back and keeps
// nothing; `render` then answers its error after the rollback. Should another unit have kept a
// response for the key first anyway (the mark makes this a backstop only), this unit rolls back
// too and answers 409 idempotency_key_in_use.
void write_keyed(domain::Store& store, IdempotentRequestPtr keyed, domain::WriteWork work,
                 RenderResponse render, http::Respond respond);

// The front door of every authenticated POST. Thread-safe.
class Idempotency {
 public:
  explicit Idempotency(domain::Store& store) : store_(store) {}

  // Called with the response function the handler must answer through (it releases the key in
  // this process before answering), and the request's key when it has one (null otherwise).
  using Proceed = std::function<void(http::Respond finish, IdempotentRequestPtr keyed)>;

  // Decides what to do with `request` for `principal`. Calls exactly one of:
  //  - `respond(response)` when the request is answered here: a malformed key (400), the key
  //    running in this process (409 idempotency_key_in_use), or a response already kept for it
  //    (the replay, or 409 idempotency_key_reused), found on a reader without touching the
  //    writer;
  //  - `proceed(finish, keyed)` when the handler should run. A keyed handler must write through
  //    `write_keyed` (ApiCall::write does) so that its key is claimed in its unit of work.
  // Requests without the header, or not POST, proceed at once with `keyed` null.
  void handle(const http::Request& request, const domain::Principal& principal,
              http::Respond respond, Proceed proceed);

 private:
  bool try_begin(domain::Pk org_pk, const std::string& key);
  void end(domain::Pk org_pk, const std::string& key);
  // Deletes a bounded batch of expired responses in a write unit of its own, at most once a
  // minute (sooner while a batch comes back full), driven by keyed traffic: the request path
  // never deletes anything itself.
  void prune_if_due(domain::UnixSeconds now);

  domain::Store& store_;
  std::mutex mutex_;
  std::set<std::pair<domain::Pk, std::string>> running_;
  std::atomic<domain::UnixSeconds> next_prune_at_{0};
};

}  // namespace invited::api
