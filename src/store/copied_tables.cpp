#include "store/copied_tables.hpp"

namespace invited::store {

std::span<const char* const> copied_tables() {
  static constexpr const char* kTables[] = {
      "organizations",
      "users",
      "websites",
      "website_groups",
      "group_websites",
      "organization_members",
      "website_members",
      "group_members",
      "removed_memberships",
      "api_keys",
      "api_key_websites",
      "invite_batches",
      "retired_tokens",
      "invites",
      "outbox_emails",
      "idempotent_responses",
      "events",
      // Endpoints before their deliveries, deliveries before their attempts. Pending deliveries
      // are copied too: the target delivers them (their events are copied with the log).
      "webhook_endpoints",
      "webhook_deliveries",
      "webhook_attempts",
  };
  return kTables;
}

std::span<const TableNotCopied> tables_not_copied() {
  static constexpr TableNotCopied kTables[] = {
      {"write_probe",
       "the readiness probe's one row, made by each store's migrations; its counter means "
       "nothing to another database"},
      {"rate_budgets",
       "PostgreSQL's shared rate-limit buckets: budgets in flight, not data; a bucket that is "
       "absent is full"},
      {"schema_migrations",
       "each store's record of its applied migrations, written when the target is migrated"},
  };
  return kTables;
}

}  // namespace invited::store
