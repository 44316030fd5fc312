#include "api/idempotency.hpp"

#include <limits>
#include <optional>

#include "api/json_io.hpp"
#include "domain/clock.hpp"
#include "domain/secret.hpp"

namespace invited::api {
namespace {

constexpr std::size_t kMaxKeyLength = 255;
constexpr domain::UnixSeconds kRetention = 24 * 3600;
// What the keys that seal kept bodies are derived for (domain/sealing.hpp).
constexpr std::string_view kSealPurpose = "invited idempotent response v1";
// Pruning: one bounded delete per pass, so a pass never holds the writer for long.
constexpr int kPruneBatch = 1000;
constexpr domain::UnixSeconds kPruneEverySeconds = 60;
constexpr domain::UnixSeconds kPruneRunning = std::numeric_limits<domain::UnixSeconds>::max();

bool is_valid_key(std::string_view key) {
  if (key.empty() || key.size() > kMaxKeyLength) return false;
  for (char c : key) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

domain::SecretHash request_hash(const http::Request& request, const domain::Principal& caller) {
  std::string material = caller.key_id.str();
  material += '\n';
  material += request.method_text;
  material += '\n';
  material += request.path;
  material += '\n';
  material += request.body;
  return domain::hash_secret(material);
}

// Only successes are kept: a request that failed wrote nothing (SPEC §3), so running it again
// with the same key is safe, and a caller who fixes the body can retry with the key it has.
bool is_kept(const http::Response& response) {
  return response.status >= 200 && response.status < 300;
}

http::Response key_in_use() {
  return error_response(409, "idempotency_key_in_use",
                        "a request with this Idempotency-Key is still running; retry when it has "
                        "finished");
}

// The answer to a request whose key already has a kept response: its replay when the request
// is the same, else 409 idempotency_key_reused.
http::Response kept_answer(const domain::IdempotentResponse& kept,
                           const IdempotentRequest& request) {
  // A body that does not open was kept for another caller (or altered): not this request's.
  std::optional<std::string> body;
  if (kept.request_hash == request.request_hash) body = domain::unseal(request.seal_key, kept.body);
  if (!body) {
    return error_response(409, "idempotency_key_reused",
                          "this Idempotency-Key was used with a different request in the last 24 "
                          "hours; use a new key");
  }
  http::Response replay;
  replay.status = kept.status;
  replay.body = std::move(*body);
  replay.headers.emplace_back("cache-control", "no-store");
  replay.headers.emplace_back("idempotent-replayed", "true");
  return replay;
}

}  // namespace

void write_keyed(domain::Store& store, IdempotentRequestPtr keyed, domain::WriteWork work,
                 RenderResponse render, http::Respond respond) {
  // What the last run of the unit decided (a unit may run more than once: domain/store.hpp).
  struct Outcome {
    std::optional<http::Response> response;  // the replay, the refusal, or the rendered success
    bool key_taken = false;                  // another unit kept a response for the key first
  };
  auto outcome = std::make_shared<Outcome>();
  auto shared_render = std::make_shared<RenderResponse>(std::move(render));
  store.write(
      [keyed, outcome, shared_render,
       work = std::move(work)](domain::WriteTx& tx) -> domain::Status {
        *outcome = Outcome{};
        const domain::UnixSeconds now = domain::now().seconds();
        // Another process's unit is running the key (this process's own are refused earlier,
        // in handle): answer at once, as one instance would, instead of running it again.
        if (!tx.mark_idempotency_key_running(keyed->org_pk, keyed->key)) {
          outcome->response = key_in_use();
          return {};  // writes nothing
        }
        if (auto kept = tx.find_idempotent_response(keyed->org_pk, keyed->key, now - kRetention)) {
          outcome->response = kept_answer(*kept, *keyed);
          return {};  // writes nothing
        }
        if (auto status = work(tx); !status) return status;
        http::Response response = (*shared_render)(domain::Status());
        if (is_kept(response) &&
            !tx.save_idempotent_response(
                keyed->org_pk, keyed->key,
                domain::IdempotentResponse{keyed->request_hash, response.status,
                                           domain::seal(keyed->seal_key, response.body), now},
                now - kRetention)) {
          outcome->key_taken = true;
          // Undoes everything `work` wrote: the unit that holds the key is the one that ran.
          return domain::Error{domain::ErrorCode::kConflict, "idempotency key taken"};
        }
        outcome->response = std::move(response);
        return {};
      },
      [outcome, shared_render, respond = std::move(respond)](domain::Status status) {
        if (status && outcome->response) return respond(std::move(*outcome->response));
        if (!status && outcome->key_taken) return respond(key_in_use());
        respond((*shared_render)(status));
      });
}

bool Idempotency::try_begin(domain::Pk org_pk, const std::string& key) {
  std::lock_guard lock(mutex_);
  return running_.emplace(org_pk, key).second;
}

void Idempotency::end(domain::Pk org_pk, const std::string& key) {
  std::lock_guard lock(mutex_);
  running_.erase({org_pk, key});
}

void Idempotency::prune_if_due(domain::UnixSeconds now) {
  domain::UnixSeconds due = next_prune_at_.load(std::memory_order_relaxed);
  // Whoever moves the deadline schedules the pass; kPruneRunning keeps it to one at a time.
  if (now < due || !next_prune_at_.compare_exchange_strong(due, kPruneRunning)) return;
  auto deleted = std::make_shared<int>(0);
  store_.write(
      [deleted, now](domain::WriteTx& tx) -> domain::Status {
        *deleted = tx.prune_idempotent_responses(now - kRetention, kPruneBatch);
        return {};
      },
      [this, deleted](domain::Status status) {
        const domain::UnixSeconds at = domain::now().seconds();
        const bool more = status && *deleted == kPruneBatch;
        next_prune_at_.store(more ? at : at + kPruneEverySeconds, std::memory_order_relaxed);
      });
}

void Idempotency::handle(const http::Request& request, const domain::Principal& principal,
                         http::Respond respond, Proceed proceed) {
  auto header = request.header("idempotency-key");
  if (request.method != http::Method::kPost || !header) {
    return proceed(std::move(respond), nullptr);
  }
  if (!is_valid_key(*header)) {
    domain::FieldErrors errors;
    errors.add("Idempotency-Key", "must be 1 to 255 visible ASCII characters");
    return respond(validation_error(errors));
  }
  auto keyed = std::make_shared<const IdempotentRequest>(IdempotentRequest{
      principal.org_pk, std::string(*header), request_hash(request, principal),
      domain::derive_seal_key(request.header("x-api-key").value_or(""), kSealPurpose)});
  if (!try_begin(keyed->org_pk, keyed->key)) return respond(key_in_use());
  const domain::UnixSeconds now = domain::now().seconds();
  prune_if_due(now);
  // The cheap replay: a kept response is answered from a reader, without touching the writer.
  // Finding none here proves nothing (another process may be running the key); the unit of
  // work looks again inside its transaction (write_keyed).
  auto kept = std::make_shared<std::optional<domain::IdempotentResponse>>();
  store_.read(
      [keyed, kept, now](domain::ReadTx& tx) -> domain::Status {
        *kept = tx.find_idempotent_response(keyed->org_pk, keyed->key, now - kRetention);
        return {};
      },
      [this, keyed, kept, respond = std::move(respond),
       proceed = std::move(proceed)](domain::Status status) mutable {
        if (!status || *kept) {
          end(keyed->org_pk, keyed->key);
          if (!status) return respond(error_response(status.error()));
          return respond(kept_answer(**kept, *keyed));
        }
        proceed(
            [this, keyed, respond = std::move(respond)](http::Response response) {
              end(keyed->org_pk, keyed->key);
              respond(std::move(response));
            },
            keyed);
      });
}

}  // namespace invited::api
