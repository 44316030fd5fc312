// Users: one per folded email address.
#include "store/postgres/transaction.hpp"

namespace invited::store::postgres {

using domain::Pk;
using domain::Uuid;

std::optional<domain::UserRef> Transaction::find_user(std::string_view email_key) {
  static constexpr Statement kFind{"users_find", "SELECT pk, id FROM users WHERE email_key = $1"};
  Result rows = db_.query(kFind, Params().add(email_key));
  if (rows.rows() == 0) return std::nullopt;
  return domain::UserRef{rows.int64(0, 0), rows.uuid(0, 1)};
}

std::optional<domain::UserRef> Transaction::find_user_by_id(const Uuid& id) {
  static constexpr Statement kFind{"users_find_by_id", "SELECT pk, id FROM users WHERE id = $1"};
  Result rows = db_.query(kFind, Params().add(id));
  if (rows.rows() == 0) return std::nullopt;
  return domain::UserRef{rows.int64(0, 0), rows.uuid(0, 1)};
}

domain::UserRef Transaction::insert_user_if_absent(const domain::NewUser& user) {
  // The unique email_key decides, in one statement: the new row, or else the stored one. (A row
  // inserted by a concurrent unit that committed after this one's snapshot makes the insert
  // fail with a serialization failure, and the pool runs the unit again.)
  static constexpr Statement kInsert{
      "users_insert_if_absent",
      "WITH inserted AS (INSERT INTO users(id, email, email_key, first_name, last_name, "
      "  email_verified, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) "
      "  ON CONFLICT (email_key) DO NOTHING RETURNING pk, id) "
      "SELECT pk, id FROM inserted UNION ALL "
      "SELECT pk, id FROM users WHERE email_key = $3 AND NOT EXISTS (SELECT 1 FROM inserted)"};
  Params params;
  params.add(user.id)
      .add(user.email_address)
      .add(user.email_key)
      .add(user.first_name)
      .add(user.last_name)
      .add(user.email_verified)
      .add(user.created_at);
  Result rows = db_.query(kInsert, params);
  if (rows.rows() == 0) {
    throw PgError(FailureKind::kInternal, "", "user vanished after a conflicting insert");
  }
  return domain::UserRef{rows.int64(0, 0), rows.uuid(0, 1)};
}

void Transaction::set_email_verified(Pk user_pk) {
  static constexpr Statement kVerify{"users_set_email_verified",
                                     "UPDATE users SET email_verified = true WHERE pk = $1"};
  db_.query(kVerify, Params().add(user_pk));
}

}  // namespace invited::store::postgres
