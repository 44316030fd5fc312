#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/migrations.hpp"

namespace invited::store {

// Whether binaries that do not know a migration keep working on a database that has it.
// Compatible: it only adds (tables, columns with defaults or NULL, indexes) and the rows older
// binaries write still mean what the newer one expects. Breaking: anything else (a column dropped
// or renamed, a meaning changed, a backfill older binaries would undo by writing the old way).
enum class Compatibility { kCompatible, kBreaking };

// The compatibility a migration file declares on its first line, exactly
// `-- compatibility: compatible` or `-- compatibility: breaking` (trailing spaces and a CR
// allowed); nullopt when the first line says neither.
std::optional<Compatibility> declared_compatibility(std::string_view sql);
std::optional<Compatibility> declared_compatibility(const Migration& migration);

// "compatible" or "breaking": the word of the header line, and what the applied-migrations table
// records (its `compatibility` column; NULL when the migration declared neither).
std::string_view compatibility_word(Compatibility compatibility);

// The word `migration` declares, for the applied-migrations table; nullopt (NULL) when its first
// line declares neither.
std::optional<std::string_view> declared_compatibility_word(const Migration& migration);

// One migration as the database's applied-migrations table records it. `compatibility` is the
// recorded word, empty when the row has none (NULL, or a table that has no such column).
struct AppliedMigration {
  int version = 0;
  std::string name;
  std::string compatibility;
};

// The rule for a database migrated by a newer binary. `database_version` is the database's
// schema version, `latest` this binary's highest migration, `unknown` the recorded migrations
// whose version is above `latest` (any order). Returns nothing when this binary may serve the
// database: its version is not above `latest`, or every migration above `latest` is recorded as
// compatible (and the database's version itself is among them). Otherwise the message to refuse
// with, naming the lowest migration that is breaking or records no compatibility (or, when the
// version has no record at all, the version), and saying what to do.
std::optional<std::string> newer_schema_refusal(int database_version, int latest,
                                                std::span<const AppliedMigration> unknown);

// Why a running server is not ready on a database at schema `database_version`: older than this
// binary's `latest` (not migrated yet), or newer with a migration this binary may not serve
// (newer_schema_refusal). `read_unknown` reads the recorded migrations above `latest`; it is
// called only when the database is newer. Nothing when the server may serve it.
std::optional<std::string> schema_readiness_problem(
    int database_version, int latest,
    const std::function<std::vector<AppliedMigration>()>& read_unknown);

// The line to log when this binary serves a newer database whose unknown migrations are all
// compatible: which ones (names, lowest first). Empty when `unknown` is empty.
std::string newer_compatible_schema_note(int database_version, int latest,
                                         std::span<const AppliedMigration> unknown);

}  // namespace invited::store
