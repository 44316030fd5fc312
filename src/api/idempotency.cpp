#include "api/idempotency.hpp"

#include <memory>

#include "api/json_io.hpp"
#include "domain/clock.hpp"
#include "domain/secret.hpp"

namespace invited::api {
namespace {

constexpr std::size_t kMaxKeyLength = 255;
constexpr domain::UnixSeconds kRetention = 24 * 3600;

bool is_valid_key(std::string_view key) {
  if (key.empty() || key.size() > kMaxKeyLength) return false;
  for (char c : key) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

domain::SecretHash request_hash(const http::Request& request) {
  std::string material = request.method_text;
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

}  // namespace

bool Idempotency::try_begin(domain::Pk org_pk, const std::string& key) {
  std::lock_guard lock(mutex_);
  return running_.emplace(org_pk, key).second;
}

void Idempotency::end(domain::Pk org_pk, const std::string& key) {
  std::lock_guard lock(mutex_);
  running_.erase({org_pk, key});
}

void Idempotency::handle(const http::Request& request, const domain::Principal& principal,
                         http::Respond respond, std::function<void(http::Respond finish)> proceed) {
  auto header = request.header("idempotency-key");
  if (request.method != http::Method::kPost || !header) return proceed(std::move(respond));
  if (!is_valid_key(*header)) {
    domain::FieldErrors errors;
    errors.add("Idempotency-Key", "must be 1 to 255 visible ASCII characters");
    return respond(validation_error(errors));
  }
  const domain::Pk org_pk = principal.org_pk;
  auto key = std::make_shared<const std::string>(*header);
  if (!try_begin(org_pk, *key)) {
    return respond(error_response(409, "idempotency_key_in_use",
                                  "a request with this Idempotency-Key is still running; retry "
                                  "when it has finished"));
  }
  const auto hash = request_hash(request);
  const auto now = domain::now().seconds();
  auto kept = std::make_shared<std::optional<domain::IdempotentResponse>>();
  store_.read(
      [org_pk, key, kept, now](domain::ReadTx& tx) -> domain::Status {
        *kept = tx.find_idempotent_response(org_pk, *key, now - kRetention);
        return {};
      },
      [this, org_pk, key, kept, hash, respond = std::move(respond),
       proceed = std::move(proceed)](domain::Status status) mutable {
        if (!status) {
          end(org_pk, *key);
          return respond(error_response(status.error()));
        }
        if (*kept) {
          end(org_pk, *key);
          if ((*kept)->request_hash != hash) {
            return respond(error_response(409, "idempotency_key_reused",
                                          "this Idempotency-Key was used with a different "
                                          "request in the last 24 hours; use a new key"));
          }
          http::Response replay;
          replay.status = (*kept)->status;
          replay.body = (*kept)->body;
          replay.headers.emplace_back("cache-control", "no-store");
          replay.headers.emplace_back("idempotent-replayed", "true");
          return respond(std::move(replay));
        }
        proceed([this, org_pk, key, hash, respond](http::Response response) {
          if (!is_kept(response)) {
            end(org_pk, *key);
            return respond(std::move(response));
          }
          auto shared = std::make_shared<http::Response>(std::move(response));
          const auto saved_at = domain::now().seconds();
          store_.write(
              [org_pk, key, hash, shared, saved_at](domain::WriteTx& tx) -> domain::Status {
                tx.save_idempotent_response(
                    org_pk, *key,
                    domain::IdempotentResponse{hash, shared->status, shared->body, saved_at},
                    saved_at - kRetention);
                return {};
              },
              [this, org_pk, key, shared, respond](domain::Status) {
                // Keeping the response is best effort: the request itself has succeeded.
                end(org_pk, *key);
                respond(std::move(*shared));
              });
        });
      });
}

}  // namespace invited::api
