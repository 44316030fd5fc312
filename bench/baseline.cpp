// The storage limit for one bulk-50 direct invite, on the project's own schema.
//
// Runs, straight through the SQLite C API and single-threaded, exactly the statements the
// service's writer runs for one POST /api/v1/invites/bulk {"invite_method":"direct"} with a fresh
// email and 50 live websites (src/domain/bulk_invite.cpp run_bulk_invite, the SQL of
// src/store/sqlite/{tenancy,users,memberships,invites}.cpp, the transaction shape of
// src/store/sqlite/sqlite_store.cpp):
//
//   BEGIN IMMEDIATE                                  once per group of N requests
//     (SAVEPOINT unit                                per request, only with --savepoint: the
//                                                     service's writer runs a group without
//                                                     savepoints unless a unit fails)
//       SELECT pk, id FROM users WHERE email_key = ?            -> no row (fresh email), so the
//                                                                   organization-membership
//                                                                   check is skipped, as in the
//                                                                   service
//       SELECT 1 FROM invites INDEXED BY invites_one_pending
//         WHERE email_key = ? AND status = 0 AND org_pk = ? LIMIT 1
//       50 x SELECT pk FROM websites WHERE id = ? AND org_pk = ? AND deleted_at IS NULL
//            (before the first insert) INSERT INTO users ... ON CONFLICT(email_key) DO NOTHING
//                                      RETURNING pk
//            INSERT INTO website_members ... ON CONFLICT DO NOTHING   with the user's id copied
//                                                     from users, as the service writes it (the
//                                                     member lists' order, migration 0004)
//            INSERT INTO events ...            the membership.created event of SPEC §9, the
//                                                     row the service's writer adds per
//                                                     membership (src/store/sqlite/events.cpp),
//                                                     with its compact JSON data
//     (RELEASE unit)
//   COMMIT                                           durable: WAL, synchronous=FULL
//
// Same pragmas as src/store/sqlite/connection.cpp (foreign_keys=OFF, cache_size=-32768,
// temp_store=MEMORY, secure_delete=ON, journal_mode=WAL, synchronous=FULL); --no-secure-delete
// measures what secure_delete costs. Checkpoints are SQLite's default (PASSIVE, inside the
// commit that takes the WAL past 1000 pages), which keeps the WAL at a few MiB; --restart-mib N
// instead does what the service's writer does (src/store/sqlite/sqlite_store.cpp): no automatic
// checkpoint, and a RESTART checkpoint between groups once a commit leaves N MiB in the WAL
// (--passive-mib N: a PASSIVE one), with journal_size_limit N MiB. That measures the writer's
// checkpoint policy against SQLite's default without HTTP in the way. Statements are
// prepared once and bound without copies, and SQLite's memory statistics are off
// (SQLITE_CONFIG_MEMSTATUS=0: Debian's build takes a global mutex on every allocation for them and
// has no lookaside allocator; that costs the same work about 15 %): this is as fast as the storage
// work can go. --memstatus keeps the library default, which is what the service runs with unless it
// turns them off too.
//
// Usage: baseline [--group N] [--seconds S | --requests N] [--db PATH] [--savepoint]
//                 [--memstatus] [--no-secure-delete] [--restart-mib N | --passive-mib N]
// Prints one human line and one machine line starting with "BASELINE".
#include <sqlite3.h>
#include <sys/resource.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "sqlite_statement.hpp"
#include "store/migrations.hpp"

namespace {

using bench::die;
using bench::exec;
using Stmt = bench::Statement<bench::Binding::kBorrowed>;

using Bytes16 = unsigned char[16];

std::mt19937_64& rng() {
  static std::mt19937_64 engine(std::random_device{}());
  return engine;
}

void uuid_v7(Bytes16 out, std::int64_t unix_ms) {
  std::uint64_t a = rng()(), b = rng()();
  std::memcpy(out, &a, 8);
  std::memcpy(out + 8, &b, 8);
  for (int i = 0; i < 6; ++i) out[i] = static_cast<unsigned char>(unix_ms >> (40 - 8 * i));
  out[6] = static_cast<unsigned char>(0x70 | (out[6] & 0x0f));
  out[8] = static_cast<unsigned char>(0x80 | (out[8] & 0x3f));
}

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// User + system CPU time of this process.
double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

void usage() {
  std::fprintf(stderr,
               "usage: baseline [--group N] [--seconds S | --requests N] [--db PATH] "
               "[--savepoint] [--memstatus] [--no-secure-delete] "
               "[--restart-mib N | --passive-mib N]\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  int group = 64;
  double seconds = 5;
  long requests = 0;  // 0: run for `seconds`
  std::string path = "baseline.db";
  bool savepoints = false;
  bool memstatus = false;
  bool secure_delete = true;
  long checkpoint_mib = 0;  // 0: SQLite's automatic checkpoint
  int checkpoint_mode = SQLITE_CHECKPOINT_RESTART;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (arg == "--group") {
      group = std::atoi(value());
    } else if (arg == "--seconds") {
      seconds = std::atof(value());
    } else if (arg == "--requests") {
      requests = std::atol(value());
    } else if (arg == "--db") {
      path = value();
    } else if (arg == "--savepoint") {
      savepoints = true;
    } else if (arg == "--memstatus") {
      memstatus = true;
    } else if (arg == "--no-secure-delete") {
      secure_delete = false;
    } else if (arg == "--restart-mib") {
      checkpoint_mib = std::atol(value());
      checkpoint_mode = SQLITE_CHECKPOINT_RESTART;
    } else if (arg == "--passive-mib") {
      checkpoint_mib = std::atol(value());
      checkpoint_mode = SQLITE_CHECKPOINT_PASSIVE;
    } else {
      usage();
    }
  }
  if (group < 1 || (requests <= 0 && seconds <= 0) || checkpoint_mib < 0) usage();

  if (!memstatus && sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) != SQLITE_OK) {
    std::fprintf(stderr, "baseline: SQLITE_CONFIG_MEMSTATUS refused\n");
    return 1;
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path + suffix).c_str());
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    die(db, "open");
  }
  exec(db,
       "PRAGMA foreign_keys = OFF; PRAGMA cache_size = -32768; PRAGMA temp_store = MEMORY;"
       "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;");
  exec(db, secure_delete ? "PRAGMA secure_delete = ON" : "PRAGMA secure_delete = OFF");
  // The WAL's size in pages after each commit, as the service's writer learns it.
  static int wal_pages = 0;
  int restart_pages = 0;
  if (checkpoint_mib > 0) {
    exec(db, ("PRAGMA journal_size_limit = " + std::to_string(checkpoint_mib << 20)).c_str());
    restart_pages = static_cast<int>((checkpoint_mib << 20) / 4096);
    sqlite3_wal_hook(
        db,
        [](void*, sqlite3*, const char*, int pages) {
          wal_pages = pages;
          return SQLITE_OK;
        },
        nullptr);
  }
  for (const auto& migration : invited::store::sqlite_migrations()) {
    exec(db, "BEGIN IMMEDIATE");
    exec(db, migration.sql);
    exec(db, ("PRAGMA user_version = " + std::to_string(migration.version)).c_str());
    exec(db, "COMMIT");
  }

  // One organization and 50 live websites, as bench/run creates through the API.
  const std::int64_t now_s = unix_ms() / 1000;
  Bytes16 org_id;
  uuid_v7(org_id, unix_ms());
  std::int64_t org_pk = 0;
  {
    Stmt insert(db,
                "INSERT INTO organizations(id, name, created_at) VALUES (?1, ?2, ?3) "
                "RETURNING pk");
    insert.bind_blob(1, org_id, 16).bind(2, std::string_view("Bench")).bind(3, now_s);
    if (!insert.step()) die(db, "insert organization");
    org_pk = insert.int64(0);
    insert.reset();
  }
  constexpr int kTargets = 50;
  std::vector<std::array<unsigned char, 16>> websites(kTargets);
  {
    Stmt insert(db,
                "INSERT INTO websites(id, org_pk, url, name, created_at) "
                "VALUES (?1, ?2, ?3, ?4, ?5)");
    for (auto& id : websites) {
      uuid_v7(id.data(), unix_ms());
      insert.bind_blob(1, id.data(), 16)
          .bind(2, org_pk)
          .bind(3, std::string_view("https://site.bench.example"))
          .bind(4, std::string_view("Site"))
          .bind(5, now_s);
      insert.run();
    }
  }

  Stmt begin(db, "BEGIN IMMEDIATE");
  Stmt commit(db, "COMMIT");
  Stmt savepoint(db, "SAVEPOINT unit");
  Stmt release(db, "RELEASE unit");
  Stmt find_user(db, "SELECT pk, id FROM users WHERE email_key = ?1");
  Stmt pending(db,
               "SELECT 1 FROM invites INDEXED BY invites_one_pending "
               "WHERE email_key = ?2 AND status = 0 AND org_pk = ?1 LIMIT 1");
  Stmt find_website(db,
                    "SELECT pk FROM websites WHERE id = ?1 AND org_pk = ?2 AND deleted_at IS NULL");
  Stmt insert_user(
      db,
      "INSERT INTO users(id, email, email_key, first_name, last_name, email_verified, created_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(email_key) DO NOTHING RETURNING pk");
  Stmt add_member(db,
                  "INSERT INTO website_members(website_pk, user_pk, role, created_at, user_id) "
                  "VALUES (?1, ?2, ?3, ?4, (SELECT id FROM users WHERE pk = ?2)) "
                  "ON CONFLICT DO NOTHING");
  Stmt record_event(db,
                    "INSERT INTO events(id, org_pk, type, occurred_at, actor_type, actor_key_id, "
                    "actor_email, website_pk, group_pk, user_pk, email_key, data) "
                    "VALUES (?1, ?2, 20, ?3, 1, ?4, NULL, ?5, NULL, ?6, ?7, ?8)");
  Bytes16 key_id;
  uuid_v7(key_id, unix_ms());
  auto hex_id = [](const unsigned char* id) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < 16; ++i) {
      if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
      out += kHex[id[i] >> 4];
      out += kHex[id[i] & 0xf];
    }
    return out;
  };

  const std::string tag = std::to_string(unix_ms());
  long done = 0, commits = 0, added = 0, checkpoints = 0;
  const double cpu0 = cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    if (requests > 0 ? done >= requests : since(t0) >= seconds) break;
    begin.run();
    for (int g = 0; g < group && (requests <= 0 || done < requests); ++g, ++done) {
      const std::int64_t ms = unix_ms();
      const std::int64_t s = ms / 1000;
      const std::string email = "b" + tag + "-" + std::to_string(done) + "@bench.example";
      if (savepoints) savepoint.run();

      find_user.bind(1, email);
      if (find_user.step()) die(db, "fresh email already present");
      find_user.reset();
      pending.bind(1, org_pk).bind(2, email);
      const bool may_have_pending = pending.step();
      pending.reset();
      if (may_have_pending) die(db, "unexpected pending invite");

      std::int64_t user_pk = 0;
      Bytes16 user_id;
      for (const auto& website : websites) {
        find_website.bind_blob(1, website.data(), 16).bind(2, org_pk);
        if (!find_website.step()) die(db, "website not found");
        const std::int64_t website_pk = find_website.int64(0);
        find_website.reset();
        if (user_pk == 0) {
          uuid_v7(user_id, ms);
          insert_user.bind_blob(1, user_id, 16)
              .bind(2, email)
              .bind(3, email)
              .bind_null(4)
              .bind_null(5)
              .bind(6, 0)
              .bind(7, s);
          if (!insert_user.step()) die(db, "user insert conflicted");
          user_pk = insert_user.int64(0);
          insert_user.reset();
        }
        add_member.bind(1, website_pk).bind(2, user_pk).bind(3, 1).bind(4, s);
        add_member.run();
        added += sqlite3_changes(db);
        Bytes16 event_id;
        uuid_v7(event_id, ms);
        const std::string data =
            "{\"user_id\":\"" + hex_id(user_id) + "\",\"email\":\"" + email +
            "\",\"role\":\"viewer\",\"target_type\":\"website\",\"target_id\":\"" +
            hex_id(website.data()) + "\"}";
        record_event.bind_blob(1, event_id, 16)
            .bind(2, org_pk)
            .bind(3, s)
            .bind_blob(4, key_id, 16)
            .bind(5, website_pk)
            .bind(6, user_pk)
            .bind(7, email)
            .bind(8, data);
        record_event.run();
      }
      if (savepoints) release.run();
    }
    commit.run();
    ++commits;
    if (restart_pages > 0 && wal_pages >= restart_pages) {
      int code = sqlite3_wal_checkpoint_v2(db, nullptr, checkpoint_mode, nullptr, nullptr);
      if (code != SQLITE_OK) die(db, "checkpoint");
      ++checkpoints;
      wal_pages = 0;
    }
  }
  const double elapsed = since(t0);
  const double cpu = cpu_seconds() - cpu0;
  sqlite3_close(db);
  if (added != done * kTargets) {
    std::fprintf(stderr, "baseline: %ld memberships for %ld requests\n", added, done);
    return 1;
  }
  std::printf(
      "baseline group=%d%s: %ld requests in %.2f s: %.0f requests/s, %.0f memberships/s, "
      "%.0f commits/s, %ld checkpoints of our own\n",
      group,
      savepoints ? (memstatus ? " (savepoints, memstatus)" : " (savepoints)")
                 : (memstatus ? " (memstatus)" : ""),
      done, elapsed, done / elapsed, added / elapsed, commits / elapsed, checkpoints);
  std::printf(
      "BASELINE group=%d requests=%ld seconds=%.3f rps=%.1f memberships_per_s=%.1f "
      "commits_per_s=%.1f cpu_pct=%.0f\n",
      group, done, elapsed, done / elapsed, added / elapsed, commits / elapsed,
      100 * cpu / elapsed);
  return 0;
}
