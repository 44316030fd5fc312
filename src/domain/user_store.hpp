#pragma once

#include <optional>
#include <string_view>

#include "domain/records.hpp"

namespace invited::domain {

// Storage of users: one global identity per email address, compared by its folded key
// (Email::key). Part of a unit of work (domain/store.hpp).
class UserReadTx {
 public:
  virtual ~UserReadTx() = default;

  // The user whose email key is `email_key`.
  virtual std::optional<UserRef> find_user(std::string_view email_key) = 0;
  virtual std::optional<UserRef> find_user_by_id(const Uuid& id) = 0;
};

class UserWriteTx : public virtual UserReadTx {
 public:
  // Inserts the user unless one with the same email key exists; returns whichever is stored.
  // The store's uniqueness constraint on the email key decides, so concurrent callers get the
  // same user.
  virtual UserRef insert_user_if_absent(const NewUser& user) = 0;
  virtual void set_email_verified(Pk user_pk) = 0;
};

}  // namespace invited::domain
