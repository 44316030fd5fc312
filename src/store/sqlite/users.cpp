// The users topic (domain/user_store.hpp).
#include "store/sqlite/transaction.hpp"

namespace invited::store::sqlite {

using domain::Pk;
using domain::UnixSeconds;
using domain::Uuid;

std::optional<domain::UserRef> Transaction::find_user(std::string_view email_key) {
  static constexpr const char* kFind = "SELECT pk, id FROM users WHERE email_key = ?1";
  auto row = db_.query(kFind);
  row.bind(1, email_key);
  if (!row.step()) return std::nullopt;
  return domain::UserRef{row.int64(0), row.uuid(1)};
}

std::optional<domain::UserRef> Transaction::find_user_by_id(const Uuid& id) {
  static constexpr const char* kFind = "SELECT pk, id FROM users WHERE id = ?1";
  auto row = db_.query(kFind);
  row.bind(1, id);
  if (!row.step()) return std::nullopt;
  return domain::UserRef{row.int64(0), row.uuid(1)};
}

domain::UserRef Transaction::insert_user_if_absent(const domain::NewUser& user) {
  static constexpr const char* kInsert =
      "INSERT INTO users(id, email, email_key, first_name, last_name, email_verified, created_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(email_key) DO NOTHING RETURNING pk";
  {
    auto row = db_.query(kInsert);
    row.bind(1, user.id)
        .bind(2, user.email_address)
        .bind(3, user.email_key)
        .bind(4, user.first_name)
        .bind(5, user.last_name)
        .bind(6, user.email_verified ? 1 : 0)
        .bind(7, user.created_at);
    if (row.step()) return domain::UserRef{row.int64(0), user.id};
  }
  auto existing = find_user(user.email_key);
  if (!existing) throw StoreError(0, "user vanished after a conflicting insert");
  return *existing;
}

void Transaction::set_email_verified(Pk user_pk) {
  static constexpr const char* kVerify = "UPDATE users SET email_verified = 1 WHERE pk = ?1";
  db_.query(kVerify).bind(1, user_pk).execute();
}

}  // namespace invited::store::sqlite
