// The preload of `bench/run --preload N`: fills a migrated invited database with N website
// memberships, straight through SQLite on the project's schema, so that the service can be
// measured on a database that already holds a lot of other tenants' work.
//
// What it writes (every NOT NULL column, every index maintained by SQLite as usual):
//   - N / 2,500 organizations ("preload org K"), each with one API key (the hash of no secret:
//     nobody authenticates as them) and 50 live websites;
//   - 50 users per organization, each a member (role viewer) of all 50 of its websites: 2,500
//     memberships per organization, 50 per user, 50 per website. That is what N / 50 bulk-50
//     direct requests leave behind, spread over many tenants;
//   - in the organization --lists-org names (created beforehand with `invited admin create-org`,
//     so that it has an API key to list with): a website of --big members (default 100,000)
//     and one of --small members (default 100), shaped as bench/lists seeds them: two thirds
//     direct members, one third members of a group that holds the website, and 10 organization
//     members who reach both.
// Times lie in the year before the run, rising with the row key; ids are UUIDv7 of those times
// (so every id index grows at its end, as the service's inserts do). Emails start with a
// pseudo-random prefix, so the email index is filled in random order, as real sign-ups are.
// Users, websites and organizations get consecutive row keys per organization, and memberships
// are inserted in primary-key order.
//
// The database must be at this build's latest schema version (run `invited migrate` or
// `invited admin create-org` on it first) and no other process may use it while this runs. It
// writes without a journal and without fsync (a failed preload leaves a broken file: start
// again), then puts the database back in WAL mode, as the service expects it.
//
// Usage: preload --db PATH --memberships N [--lists-org UUID] [--big N] [--small N] [--check]
//   --memberships N  a multiple of 2,500 (0: only the lists organization's websites)
//   --check          afterwards run PRAGMA integrity_check and foreign_key_check (slow on large
//                    databases; bench/run --smoke uses it)
// Prints one human line and one machine line starting with "PRELOAD": counts, seconds, the
// file's size, and the ids of the big and the small website.
#include <sqlite3.h>
#include <sys/stat.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "sqlite_statement.hpp"
#include "store/migrations.hpp"
namespace {

using bench::die;
using bench::exec;
using Stmt = bench::Statement<bench::Binding::kCopied>;

using Id = std::array<unsigned char, 16>;

std::mt19937_64& rng() {
  static std::mt19937_64 engine(std::random_device{}());
  return engine;
}

// UUIDv7 as the service makes them (src/domain/uuid.cpp): 48-bit Unix milliseconds, version 7,
// a 12-bit counter in rand_a (ids of one millisecond increase), variant 10, random bits.
class IdMaker {
 public:
  Id make(std::int64_t unix_ms) {
    Id id;
    std::uint64_t a = rng()(), b = rng()();
    std::memcpy(id.data(), &a, 8);
    std::memcpy(id.data() + 8, &b, 8);
    if (unix_ms > last_ms_) {
      last_ms_ = unix_ms;
      counter_ = static_cast<std::uint16_t>(a & 0x7ff);
    } else if (++counter_ > 0xfff) {
      ++last_ms_;
      counter_ = static_cast<std::uint16_t>(a & 0x7ff);
    }
    for (int i = 0; i < 6; ++i) id[i] = static_cast<unsigned char>(last_ms_ >> (40 - 8 * i));
    id[6] = static_cast<unsigned char>(0x70 | (counter_ >> 8));
    id[7] = static_cast<unsigned char>(counter_ & 0xff);
    id[8] = static_cast<unsigned char>(0x80 | (id[8] & 0x3f));
    return id;
  }

 private:
  std::int64_t last_ms_ = -1;
  std::uint16_t counter_ = 0;
};

std::string uuid_text(const Id& id) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[id[i] >> 4];
    out += kHex[id[i] & 0xf];
  }
  return out;
}

std::optional<Id> parse_uuid(std::string_view text) {
  Id id{};
  int n = 0;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '-') continue;
    if (i + 1 >= text.size() || n >= 16) return std::nullopt;
    int hi = nibble(text[i]), lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    id[n++] = static_cast<unsigned char>(hi << 4 | lo);
    ++i;
  }
  if (n != 16) return std::nullopt;
  return id;
}

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void usage() {
  std::fprintf(stderr,
               "usage: preload --db PATH --memberships N [--lists-org UUID] [--big N] "
               "[--small N] [--check]\n");
  std::exit(2);
}

constexpr int kWebsitesPerOrg = 50;
constexpr int kUsersPerOrg = 50;  // each a member of every website of the organization
constexpr std::int64_t kMembershipsPerOrg = kWebsitesPerOrg * kUsersPerOrg;
constexpr int kViewer = 1;

// The statements of the load, prepared once.
struct Load {
  explicit Load(sqlite3* db)
      : organization(db,
                     "INSERT INTO organizations(id, name, created_at) VALUES (?1, ?2, ?3) "
                     "RETURNING pk"),
        api_key(db,
                "INSERT INTO api_keys(id, org_pk, name, key_hash, scoped, created_at) "
                "VALUES (?1, ?2, 'preload', ?3, 0, ?4)"),
        website(db,
                "INSERT INTO websites(id, org_pk, url, name, created_at) "
                "VALUES (?1, ?2, ?3, ?4, ?5) RETURNING pk"),
        user(db,
             "INSERT INTO users(id, email, email_key, email_verified, created_at) "
             "VALUES (?1, ?2, ?2, 0, ?3) RETURNING pk"),
        website_member(db,
                       "INSERT INTO website_members(website_pk, user_pk, role, created_at, "
                       "user_id) VALUES (?1, ?2, ?3, ?4, ?5)"),
        group(db,
              "INSERT INTO website_groups(id, org_pk, name, created_at) VALUES (?1, ?2, ?3, ?4) "
              "RETURNING pk"),
        group_website(db, "INSERT INTO group_websites(group_pk, website_pk) VALUES (?1, ?2)"),
        group_member(db,
                     "INSERT INTO group_members(group_pk, user_pk, role, created_at, user_id) "
                     "VALUES (?1, ?2, ?3, ?4, ?5)"),
        organization_member(db,
                            "INSERT INTO organization_members(org_pk, user_pk, role, created_at, "
                            "user_id) VALUES (?1, ?2, ?3, ?4, ?5)") {}

  Stmt organization, api_key, website, user, website_member, group, group_website, group_member,
      organization_member;
  IdMaker ids;
  std::int64_t users = 0;

  struct User {
    std::int64_t pk;
    Id id;
  };
  // A user whose email starts with a pseudo-random prefix (random order in the email index).
  User new_user(std::int64_t created_s, std::string_view domain) {
    User made{0, ids.make(created_s * 1000)};
    char email[96];
    std::snprintf(email, sizeof email, "%06llx.member%lld@%.*s",
                  static_cast<unsigned long long>(rng()() & 0xffffff),
                  static_cast<long long>(users++), static_cast<int>(domain.size()), domain.data());
    made.pk = user.bind_blob(1, made.id.data(), 16)
                  .bind(2, std::string_view(email))
                  .bind(3, created_s)
                  .returning();
    return made;
  }
  std::int64_t new_website(std::int64_t org_pk, std::int64_t created_s, std::string_view url,
                           std::string_view name) {
    Id id = ids.make(created_s * 1000);
    return website.bind_blob(1, id.data(), 16)
        .bind(2, org_pk)
        .bind(3, url)
        .bind(4, name)
        .bind(5, created_s)
        .returning();
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::string path;
  std::int64_t memberships = -1;
  std::string lists_org;
  std::int64_t big = 100000, small = 100;
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (arg == "--db") {
      path = value();
    } else if (arg == "--memberships") {
      memberships = std::atoll(value());
    } else if (arg == "--lists-org") {
      lists_org = value();
    } else if (arg == "--big") {
      big = std::atoll(value());
    } else if (arg == "--small") {
      small = std::atoll(value());
    } else if (arg == "--check") {
      check = true;
    } else {
      usage();
    }
  }
  if (path.empty() || memberships < 0 || memberships % kMembershipsPerOrg != 0 || big < 0 ||
      small < 0) {
    usage();
  }

  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    die(db, "open (run `invited migrate` on the file first)");
  }
  {
    Stmt version(db, "PRAGMA user_version");
    const int latest = invited::store::sqlite_migrations().back().version;
    if (!version.step() || version.int64(0) != latest) {
      std::fprintf(stderr, "preload: %s is at schema version %lld, not %d: run `invited migrate`\n",
                   path.c_str(), static_cast<long long>(version.int64(0)), latest);
      return 1;
    }
  }
  // A bulk load of a throwaway file: no journal, no fsync, a large cache, one writer.
  exec(db,
       "PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
       "PRAGMA cache_size = -524288; PRAGMA temp_store = MEMORY; PRAGMA foreign_keys = OFF;");

  const auto t0 = std::chrono::steady_clock::now();
  const std::int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
  const std::int64_t orgs = memberships / kMembershipsPerOrg;
  // One "tick" (a creation time) per organization, per website and per user, in row-key order,
  // spread over the year before now and ending a day before it.
  const std::int64_t ticks = orgs * (1 + kWebsitesPerOrg + kUsersPerOrg) + big + small + 64;
  const std::int64_t span_ms = 365LL * 86400 * 1000;
  const std::int64_t start_ms = (now_s - 366LL * 86400) * 1000;
  std::int64_t tick = 0;
  auto next_time_ms = [&] { return start_ms + (tick++ * span_ms) / ticks; };

  Load load(db);
  std::int64_t written = 0;
  constexpr std::int64_t kOrgsPerTransaction = 200;  // 500,000 memberships
  std::vector<std::int64_t> website_pks(kWebsitesPerOrg);
  std::vector<Load::User> users(kUsersPerOrg);
  for (std::int64_t o = 0; o < orgs; ++o) {
    if (o % kOrgsPerTransaction == 0) exec(db, "BEGIN");
    std::int64_t ms = next_time_ms();
    const std::int64_t org_s = ms / 1000;
    Id org_id = load.ids.make(ms);
    const std::string name = "preload org " + std::to_string(o);
    const std::int64_t org_pk =
        load.organization.bind_blob(1, org_id.data(), 16).bind(2, name).bind(3, org_s).returning();
    Id key_id = load.ids.make(ms);
    std::array<unsigned char, 32> key_hash;
    for (std::size_t i = 0; i < key_hash.size(); i += 8) {
      std::uint64_t r = rng()();
      std::memcpy(key_hash.data() + i, &r, 8);
    }
    load.api_key.bind_blob(1, key_id.data(), 16)
        .bind(2, org_pk)
        .bind_blob(3, key_hash.data(), 32)
        .bind(4, org_s)
        .run(1);
    const std::string domain = "org" + std::to_string(o) + ".preload.example";
    for (int w = 0; w < kWebsitesPerOrg; ++w) {
      const std::string url = "https://site" + std::to_string(w) + "." + domain;
      website_pks[w] = load.new_website(org_pk, next_time_ms() / 1000, url,
                                        "Site " + std::to_string(w) + " of " + name);
    }
    std::vector<std::int64_t> joined(kUsersPerOrg);
    for (int u = 0; u < kUsersPerOrg; ++u) {
      joined[u] = next_time_ms() / 1000;
      users[u] = load.new_user(joined[u], domain);
    }
    // Primary-key order: (website_pk, user_pk).
    for (int w = 0; w < kWebsitesPerOrg; ++w) {
      for (int u = 0; u < kUsersPerOrg; ++u) {
        load.website_member.bind(1, website_pks[w])
            .bind(2, users[u].pk)
            .bind(3, kViewer)
            .bind(4, joined[u])
            .bind_blob(5, users[u].id.data(), 16)
            .run(1);
      }
    }
    written += kMembershipsPerOrg;
    if (o % kOrgsPerTransaction == kOrgsPerTransaction - 1 || o == orgs - 1) {
      exec(db, "COMMIT");
      if (orgs >= 1000 && (o / kOrgsPerTransaction) % 4 == 3) {
        std::fprintf(stderr, "preload: %lld memberships, %.0f s\n", static_cast<long long>(written),
                     since(t0));
      }
    }
  }
  const double preload_seconds = since(t0);

  // The lists organization: a big and a small website, as bench/lists seeds them.
  std::string big_id = "-", small_id = "-";
  if (!lists_org.empty()) {
    auto id = parse_uuid(lists_org);
    if (!id) {
      std::fprintf(stderr, "preload: --lists-org %s is not a UUID\n", lists_org.c_str());
      return 1;
    }
    std::int64_t org_pk = 0;
    {
      Stmt find(db, "SELECT pk FROM organizations WHERE id = ?1");
      find.bind_blob(1, id->data(), 16);
      if (!find.step()) {
        std::fprintf(stderr, "preload: no organization %s\n", lists_org.c_str());
        return 1;
      }
      org_pk = find.int64(0);
    }
    exec(db, "BEGIN");
    const std::string domain = "lists.preload.example";
    struct Target {
      std::int64_t members;
      std::string label;
      std::int64_t website_pk = 0;
      std::int64_t group_pk = 0;
      std::string id;
    };
    std::array<Target, 2> targets{Target{big, "big", 0, 0, {}}, Target{small, "small", 0, 0, {}}};
    Stmt website_id(db, "SELECT id FROM websites WHERE pk = ?1");
    for (auto& target : targets) {
      const std::int64_t s = next_time_ms() / 1000;
      target.website_pk = load.new_website(org_pk, s, "https://" + target.label + "." + domain,
                                           target.label + " website");
      website_id.bind(1, target.website_pk);
      if (!website_id.step() || website_id.bytes(0) != 16) die(db, "website id");
      Id bytes;
      std::memcpy(bytes.data(), website_id.blob(0), 16);
      website_id.reset();
      target.id = uuid_text(bytes);
      Id group_id = load.ids.make(s * 1000);
      target.group_pk = load.group.bind_blob(1, group_id.data(), 16)
                            .bind(2, org_pk)
                            .bind(3, target.label + " group")
                            .bind(4, s)
                            .returning();
      load.group_website.bind(1, target.group_pk).bind(2, target.website_pk).run(1);
    }
    // 10 organization members, who reach both websites.
    for (int i = 0; i < 10; ++i) {
      const std::int64_t s = next_time_ms() / 1000;
      auto user = load.new_user(s, domain);
      load.organization_member.bind(1, org_pk)
          .bind(2, user.pk)
          .bind(3, kViewer)
          .bind(4, s)
          .bind_blob(5, user.id.data(), 16)
          .run(1);
    }
    // Two thirds direct members, one third members of the group that holds the website.
    for (auto& target : targets) {
      for (std::int64_t i = 0; i < target.members; ++i) {
        const std::int64_t s = next_time_ms() / 1000;
        auto user = load.new_user(s, domain);
        Stmt& insert = i % 3 == 2 ? load.group_member : load.website_member;
        insert.bind(1, i % 3 == 2 ? target.group_pk : target.website_pk)
            .bind(2, user.pk)
            .bind(3, kViewer)
            .bind(4, s)
            .bind_blob(5, user.id.data(), 16)
            .run(1);
      }
    }
    exec(db, "COMMIT");
    big_id = targets[0].id;
    small_id = targets[1].id;
  }
  // Back to what the service expects; the file is complete on disk before it starts.
  exec(db, "PRAGMA journal_mode = WAL; PRAGMA locking_mode = NORMAL;");
  exec(db, "PRAGMA synchronous = FULL; BEGIN IMMEDIATE; COMMIT;");
  const double seconds = since(t0);

  if (check) {
    // Every index agrees with its table, and every reference names an existing row.
    Stmt integrity(db, "PRAGMA integrity_check");
    while (integrity.step()) {
      const char* line = reinterpret_cast<const char*>(sqlite3_column_text(integrity.raw(), 0));
      if (std::string_view(line ? line : "") != "ok") {
        std::fprintf(stderr, "preload: integrity_check: %s\n", line ? line : "?");
        return 1;
      }
    }
    Stmt foreign(db, "PRAGMA foreign_key_check");
    if (foreign.step()) {
      std::fprintf(stderr, "preload: foreign_key_check: table %s row %lld\n",
                   reinterpret_cast<const char*>(sqlite3_column_text(foreign.raw(), 0)),
                   static_cast<long long>(foreign.int64(1)));
      return 1;
    }
  }
  sqlite3_close(db);
  struct stat st {};
  stat(path.c_str(), &st);
  std::printf(
      "preload: %lld memberships in %lld organizations (%lld users, %lld websites) in %.1f s "
      "(%.0f memberships/s), lists organization %s: %.1f s in all, file %.0f MiB\n",
      static_cast<long long>(written), static_cast<long long>(orgs),
      static_cast<long long>(orgs * kUsersPerOrg), static_cast<long long>(orgs * kWebsitesPerOrg),
      preload_seconds, preload_seconds > 0 ? written / preload_seconds : 0.0,
      lists_org.empty() ? "none" : lists_org.c_str(), seconds,
      static_cast<double>(st.st_size) / 1048576);
  std::printf(
      "PRELOAD memberships=%lld organizations=%lld seconds=%.2f bytes=%lld big_website=%s "
      "small_website=%s\n",
      static_cast<long long>(written), static_cast<long long>(orgs), seconds,
      static_cast<long long>(st.st_size), big_id.c_str(), small_id.c_str());
  return 0;
}
