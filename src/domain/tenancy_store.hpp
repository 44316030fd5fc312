#pragma once

#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "domain/records.hpp"

namespace invited::domain {

// Storage of the tenancy: organizations, their websites (soft-deleted, restorable) and their
// groups of websites. Part of a unit of work (domain/store.hpp): every method runs inside the
// unit's transaction and throws only on storage failure.
class TenancyReadTx {
 public:
  virtual ~TenancyReadTx() = default;

  virtual std::optional<Organization> find_organization(Pk org_pk) = 0;
  virtual std::optional<Organization> find_organization_by_id(const Uuid& id) = 0;
  // Every organization, oldest first (created_at, then id): for the operator's commands.
  virtual std::vector<Organization> list_organizations() = 0;

  // A website of `org_pk` that is not deleted.
  virtual std::optional<Website> find_website(Pk org_pk, const Uuid& id) = 0;
  // A website of `org_pk`, deleted or not.
  virtual std::optional<Website> find_website_including_deleted(Pk org_pk, const Uuid& id) = 0;
  // Row key of a live (not deleted) website of `org_pk`.
  virtual std::optional<Pk> find_live_website_pk(Pk org_pk, const Uuid& id) = 0;

  // Lists (SPEC §5) take either form of ListRequest and keep one order in both. A cursor names
  // an item by its id; its position comes from the item's stored sort key, so a website, group,
  // invite or key deleted or revoked since it was seen still works as a cursor.

  // Live websites of `org_pk`, oldest first (created_at, then id); with `scoped_key_pk`, only
  // those in that key's allowlist (a cursor outside it is unknown).
  virtual Page<Website> list_websites(Pk org_pk, std::optional<Pk> scoped_key_pk,
                                      const ListRequest& request) = 0;

  // A live (not deleted) group of `org_pk`, with its live websites.
  virtual std::optional<Group> find_group(Pk org_pk, const Uuid& id) = 0;
  // Row key of a live group of `org_pk`.
  virtual std::optional<Pk> find_group_pk(Pk org_pk, const Uuid& id) = 0;
  // Every target of one request at once: the row keys of the live websites (`kind` kWebsite)
  // or live groups (kGroup) of `org_pk` named by `ids`, one entry per id in the same order,
  // empty where the id names none (unknown, deleted, or another organization's). The set-based
  // twin of find_live_website_pk / find_group_pk.
  virtual std::vector<std::optional<Pk>> find_live_target_pks(Pk org_pk, TargetKind kind,
                                                              std::span<const Uuid> ids) = 0;
  // Live groups, oldest first (created_at, then id).
  virtual Page<Group> list_groups(Pk org_pk, const ListRequest& request) = 0;
};

class TenancyWriteTx : public virtual TenancyReadTx {
 public:
  virtual Organization insert_organization(const Uuid& id, std::string_view name,
                                           UnixSeconds now) = 0;

  virtual Website insert_website(Pk org_pk, const Uuid& id, std::string_view url,
                                 std::string_view name, UnixSeconds now) = 0;
  // Sets or clears the website's deleted_at.
  virtual void set_website_deleted(Pk website_pk, std::optional<UnixSeconds> deleted_at) = 0;

  // A group holding `website_pks` (live websites of the same organization); returns its row key.
  virtual Pk insert_group(Pk org_pk, const Uuid& id, std::string_view name,
                          const std::vector<Pk>& website_pks, UnixSeconds now) = 0;
  virtual void rename_group(Pk group_pk, std::string_view name) = 0;
  // Adds the websites to the group; ones it holds already are left as they are.
  virtual void add_group_websites(Pk group_pk, const std::vector<Pk>& website_pks) = 0;
  // Removes the websites from the group; ones it does not hold are ignored.
  virtual void remove_group_websites(Pk group_pk, const std::vector<Pk>& website_pks) = 0;
  // Marks the group deleted (a deleted group stays deleted).
  virtual void delete_group(Pk group_pk, UnixSeconds now) = 0;
};

}  // namespace invited::domain
