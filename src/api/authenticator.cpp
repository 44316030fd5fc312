#include "api/authenticator.hpp"

namespace invited::api {
namespace {

domain::Error unauthorized() {
  return {domain::ErrorCode::kUnauthorized,
          "missing, unknown or revoked API key: send a valid key in the x-api-key header"};
}

}  // namespace

void Authenticator::authenticate(std::string_view secret, Done done) {
  if (secret.empty()) return done(unauthorized());
  domain::SecretHash hash = domain::hash_secret(secret);
  const auto now = std::chrono::steady_clock::now();
  std::uint64_t generation;
  {
    std::lock_guard lock(mutex_);
    generation = generation_;
    auto it = cache_.find(hash);
    if (it != cache_.end()) {
      if (it->second.expires > now) return done(it->second.principal);
      cache_.erase(it);
    }
  }
  auto principal = std::make_shared<domain::Principal>();
  auto found = std::make_shared<bool>(false);
  store_.read(
      [hash, principal, found](domain::ReadTx& tx) -> domain::Status {
        *found = false;
        auto key = tx.find_api_key(hash);
        if (!key || key->revoked_at) return {};
        *principal = domain::Principal{.org_pk = key->org_pk,
                                       .org_id = key->org_id,
                                       .key_pk = key->pk,
                                       .key_id = key->id,
                                       .scoped = key->scoped,
                                       .allowed_website_pks = std::move(key->website_pks)};
        *found = true;
        return {};
      },
      [this, hash, principal, found, generation, done = std::move(done)](domain::Status status) {
        if (!status) return done(status.error());
        if (!*found) return done(unauthorized());
        {
          std::lock_guard lock(mutex_);
          if (generation == generation_ && ttl_.count() > 0) {
            cache_[hash] = Entry{principal, std::chrono::steady_clock::now() + ttl_};
          }
        }
        done(PrincipalPtr(principal));
      });
}

void Authenticator::forget(domain::Pk key_pk) {
  std::lock_guard lock(mutex_);
  ++generation_;
  std::erase_if(cache_,
                [key_pk](const auto& entry) { return entry.second.principal->key_pk == key_pk; });
}

void Authenticator::forget_all() {
  std::lock_guard lock(mutex_);
  ++generation_;
  cache_.clear();
}

}  // namespace invited::api
