#pragma once

#include "domain/records.hpp"
#include "store/postgres/result.hpp"

namespace invited::store::postgres {

// The columns of a member row, `access` being the AccessType number of the path (0
// organization, 1 group, 2 website); m is the membership, u the user.
#define INVITED_MEMBER_COLUMNS(access)                                                 \
  "SELECT u.id, u.email, u.first_name, u.last_name, u.email_verified, m.role, " access \
  ","                                                                                  \
  " m.created_at"

// Reads the columns of INVITED_MEMBER_COLUMNS (or the same columns from another query).
inline domain::Member read_member(const Result& rows, int row) {
  return domain::Member{.user_id = rows.uuid(row, 0),
                        .email = rows.text(row, 1),
                        .first_name = rows.optional_text(row, 2),
                        .last_name = rows.optional_text(row, 3),
                        .email_verified = rows.boolean(row, 4),
                        .role = static_cast<domain::Role>(rows.int64(row, 5)),
                        .access_type = static_cast<domain::AccessType>(rows.int64(row, 6)),
                        .created_at = rows.int64(row, 7)};
}

}  // namespace invited::store::postgres
