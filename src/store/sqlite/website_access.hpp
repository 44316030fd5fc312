#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "domain/records.hpp"
#include "domain/types.hpp"
#include "domain/uuid.hpp"
#include "store/sqlite/connection.hpp"
#include "store/sqlite/list_position.hpp"

namespace invited::store::sqlite {

// Who reaches one website, and how: directly, through a live group that holds it, or as a member
// of its organization (SPEC §1). Reads only indexes in list order and point lookups, so walking
// the first n users costs the same whatever the number of people who reach the website (see
// website_access.cpp for the plan and its one caveat).
//
// Lives inside one read (or write) transaction on `db`; not thread-safe.
class WebsiteAccess {
 public:
  // Prepared statements for the group streams, kept by the owner of the connection between
  // walks (preparing one costs about as much as reading a page).
  using StatementPool = std::vector<std::unique_ptr<Statement>>;

  // A user's row in the website's member list: who they are, when they first gained access
  // (through any path: `member.created_at`) and the strongest role they hold (ties go to the
  // most direct access).
  struct Grant {
    domain::Pk user_pk = 0;
    domain::Member member;
  };

  // Loads the live groups that hold the website. `pool` must outlive this object.
  WebsiteAccess(Connection& db, StatementPool& pool, domain::Pk org_pk, domain::Pk website_pk);

  // The user's access now, or nullopt if they do not reach the website.
  std::optional<Grant> of(domain::Pk user_pk);
  // For a user who no longer reaches the website: where they stood in its list, from the
  // memberships that gave access and were removed (the earliest grant time among them; exact
  // when one membership gave the access). Nullopt if none is known.
  std::optional<domain::UnixSeconds> former(domain::Pk user_pk);

  // The users who reach the website in list order (`since`, then user id), one Grant per user,
  // starting after `after`. Valid while this WebsiteAccess lives.
  class Walk {
   public:
    ~Walk();
    Walk(const Walk&) = delete;
    Walk& operator=(const Walk&) = delete;

    // The next user, or nullopt at the end of the list.
    std::optional<Grant> next();

   private:
    friend class WebsiteAccess;
    struct Stream;
    Walk(WebsiteAccess& access, const ListPosition& after);

    WebsiteAccess& access_;
    std::vector<std::unique_ptr<Stream>> streams_;
    std::optional<ListPosition> last_;  // the position of the last user returned
    std::size_t pooled_ = 0;            // pool statements in use by this walk
  };

  Walk walk(const ListPosition& after);

 private:
  Connection& db_;
  StatementPool& pool_;
  domain::Pk org_pk_;
  domain::Pk website_pk_;
  std::vector<domain::Pk> group_pks_;  // live groups holding the website
};

}  // namespace invited::store::sqlite
