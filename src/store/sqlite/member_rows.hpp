#pragma once

#include "domain/records.hpp"
#include "store/sqlite/connection.hpp"

namespace invited::store::sqlite {

// A member row as the member statements select it. Columns: user id, email, first name, last
// name, email verified, role, access type, created_at.
inline domain::Member read_member(const Cursor& row) {
  return domain::Member{.user_id = row.uuid(0),
                        .email = row.text(1),
                        .first_name = row.optional_text(2),
                        .last_name = row.optional_text(3),
                        .email_verified = row.int64(4) != 0,
                        .role = static_cast<domain::Role>(row.int64(5)),
                        .access_type = static_cast<domain::AccessType>(row.int64(6)),
                        .created_at = row.int64(7)};
}

}  // namespace invited::store::sqlite
