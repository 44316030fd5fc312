#include "store/sqlite/sqlite_engine.hpp"

#include <filesystem>

#include "store/sqlite/connection.hpp"
#include "store/sqlite/schema.hpp"
#include "store/sqlite/serve_lock.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace invited::store::sqlite {
namespace {

void ensure_parent_directory(const std::string& path) {
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
}

class SqliteServeClaim final : public ServeClaim {
 public:
  explicit SqliteServeClaim(const std::string& path) : lock_(path) {}
  bool sole_server() const override { return true; }

 private:
  ServeLock lock_;
};

class SqliteEngine final : public Engine {
 public:
  SqliteEngine(std::string path, const StoreSettings& settings)
      : path_(std::move(path)),
        readers_(settings.readers),
        wal_restart_bytes_(settings.wal_restart_bytes) {}

  std::unique_ptr<ServeClaim> claim_for_serving() override {
    ensure_parent_directory(path_);
    return std::make_unique<SqliteServeClaim>(path_);
  }

  std::unique_ptr<ServiceStore> open(Post post) override {
    ensure_parent_directory(path_);
    return std::make_unique<SqliteStore>(
        SqliteStore::Options{
            .path = path_, .readers = readers_, .wal_restart_bytes = wal_restart_bytes_},
        std::move(post));
  }

  MigrationResult migrate() override {
    ensure_parent_directory(path_);
    Connection db(path_, Connection::Mode::kReadWrite);
    int applied = sqlite::migrate(db);
    return {.applied = applied, .schema_version = schema_version(db)};
  }

 private:
  std::string path_;
  int readers_;
  std::int64_t wal_restart_bytes_;
};

}  // namespace

std::unique_ptr<Engine> make_engine(std::string path, const StoreSettings& settings) {
  return std::make_unique<SqliteEngine>(std::move(path), settings);
}

}  // namespace invited::store::sqlite
