#pragma once

#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "domain/principal.hpp"
#include "domain/store.hpp"
#include "http/message.hpp"

namespace invited::api {

// Idempotency-Key on POST (SPEC §6). The same key with the same method, path and body within
// 24 hours replays the kept response with `idempotent-replayed: true`; the same key with
// another request is 409 idempotency_key_reused; while the first is still running, 409
// idempotency_key_in_use. Keys belong to an organization. Only successful (2xx) responses are
// kept: a failed request wrote nothing, so retrying it with the same key simply runs it again.
//
// "Still running" is tracked in this process; kept responses are in the database and survive
// restarts. Thread-safe.
class Idempotency {
 public:
  explicit Idempotency(domain::Store& store) : store_(store) {}

  // Decides what to do with `request` for `principal`. Calls exactly one of:
  //  - `respond(response)` when the request is answered here (replay, 409, or a malformed key);
  //  - `proceed(finish)` when the handler should run; the handler's response must then be passed
  //    to `finish`, which keeps it (when eligible) and releases the key before answering.
  // Requests without the header, or not POST, proceed with a `finish` that only answers.
  void handle(const http::Request& request, const domain::Principal& principal,
              http::Respond respond, std::function<void(http::Respond finish)> proceed);

 private:
  bool try_begin(domain::Pk org_pk, const std::string& key);
  void end(domain::Pk org_pk, const std::string& key);

  domain::Store& store_;
  std::mutex mutex_;
  std::set<std::pair<domain::Pk, std::string>> running_;
};

}  // namespace invited::api
