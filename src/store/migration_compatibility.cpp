#include "store/migration_compatibility.hpp"

#include <algorithm>
#include <vector>

namespace invited::store {
namespace {

constexpr std::string_view kPrefix = "-- compatibility: ";
constexpr std::string_view kCompatible = "compatible";
constexpr std::string_view kBreaking = "breaking";

std::vector<AppliedMigration> by_version(std::span<const AppliedMigration> migrations) {
  std::vector<AppliedMigration> sorted(migrations.begin(), migrations.end());
  std::sort(sorted.begin(), sorted.end(), [](const AppliedMigration& a, const AppliedMigration& b) {
    return a.version < b.version;
  });
  return sorted;
}

std::string newer(int database_version, int latest) {
  return "database schema version " + std::to_string(database_version) +
         " is newer than this binary (" + std::to_string(latest) + ")";
}

}  // namespace

std::optional<Compatibility> declared_compatibility(std::string_view sql) {
  std::string_view line = sql.substr(0, sql.find('\n'));
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
  if (!line.starts_with(kPrefix)) return std::nullopt;
  line.remove_prefix(kPrefix.size());
  if (line == kCompatible) return Compatibility::kCompatible;
  if (line == kBreaking) return Compatibility::kBreaking;
  return std::nullopt;
}

std::optional<Compatibility> declared_compatibility(const Migration& migration) {
  return declared_compatibility(std::string_view(migration.sql));
}

std::string_view compatibility_word(Compatibility compatibility) {
  return compatibility == Compatibility::kCompatible ? kCompatible : kBreaking;
}

std::optional<std::string_view> declared_compatibility_word(const Migration& migration) {
  auto compatibility = declared_compatibility(migration);
  if (!compatibility) return std::nullopt;
  return compatibility_word(*compatibility);
}

std::optional<std::string> newer_schema_refusal(int database_version, int latest,
                                                std::span<const AppliedMigration> unknown) {
  if (database_version <= latest) return std::nullopt;
  bool version_recorded = false;
  for (const AppliedMigration& migration : by_version(unknown)) {
    if (migration.version <= latest) continue;
    version_recorded = version_recorded || migration.version == database_version;
    if (migration.compatibility == kCompatible) continue;
    std::string why = migration.compatibility == kBreaking
                          ? "is breaking: binaries that do not know it cannot work on it"
                          : "records no compatibility, so it counts as breaking";
    return newer(database_version, latest) + " and its migration " +
           std::to_string(migration.version) + " (" + migration.name + ") " + why +
           "; upgrade invited to a release that has that migration";
  }
  if (version_recorded) return std::nullopt;
  return newer(database_version, latest) + " and no migration of version " +
         std::to_string(database_version) +
         " is recorded with its compatibility, so it counts as breaking; upgrade invited to a "
         "release that has that migration";
}

std::optional<std::string> schema_readiness_problem(
    int database_version, int latest,
    const std::function<std::vector<AppliedMigration>()>& read_unknown) {
  if (database_version < latest) {
    return "database schema is at version " + std::to_string(database_version) + ", expected " +
           std::to_string(latest);
  }
  if (database_version == latest) return std::nullopt;
  return newer_schema_refusal(database_version, latest, read_unknown());
}

std::string newer_compatible_schema_note(int database_version, int latest,
                                         std::span<const AppliedMigration> unknown) {
  std::string names;
  for (const AppliedMigration& migration : by_version(unknown)) {
    if (migration.version <= latest) continue;
    names += (names.empty() ? "" : ", ") + migration.name;
  }
  if (names.empty()) return {};
  return newer(database_version, latest) +
         "; its migrations this binary does not know are all "
         "compatible (" +
         names + "), so it serves the database";
}

}  // namespace invited::store
