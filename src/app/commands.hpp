#pragma once

#include <optional>
#include <string>
#include <vector>

#include "app/settings.hpp"

namespace invited::app {

// The subcommands of the `invited` binary. Each returns the process exit code and prints its
// errors to stderr.

// Serves HTTP until SIGTERM/SIGINT, delivering the outbox in the background.
int serve(const Settings& settings);
// Applies pending migrations and reports the schema version.
int migrate(const Settings& settings);
// Prints {"org_id", "key_id", "api_key"[, "owner_user_id"]}.
int create_org(const Settings& settings, const std::string& name,
               const std::optional<std::string>& owner_email);
// Prints {"key_id", "api_key", "org_id", "website_ids"}.
int create_key(const Settings& settings, const std::string& org_id, const std::string& name,
               const std::vector<std::string>& website_ids);

// How the listing commands print: an aligned table with a header line (for a person), or one
// JSON array (for a script).
enum class ListFormat { kTable, kJson };

// Prints every organization, oldest first: id, name, created_at.
int list_orgs(const Settings& settings, ListFormat format);
// Prints every API key of the organization `org_id`, oldest first: id, name, scope (global or
// its website ids), created_at, revoked_at. The secrets are never stored, so never shown.
int list_keys(const Settings& settings, const std::string& org_id, ListFormat format);
// Revokes the key `key_id` (idempotent) and prints it as one JSON object, as list-keys --json
// prints each key.
// A running service refuses the key at once on PostgreSQL (it hears the revocation) and within
// --key-cache-ms on SQLite (its key cache expires).
int revoke_key(const Settings& settings, const std::string& key_id);

// Copies the SQLite database of --database into the empty PostgreSQL database `target_url`;
// prints {"copied": {table: rows, ...}, "schema_version", "target"} (the target without its
// password).
int copy_to(const Settings& settings, const std::string& target_url);

}  // namespace invited::app
