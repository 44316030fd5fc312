#include "store/postgres/connection.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "test_cluster.hpp"

namespace invited::store::postgres {
namespace {

using domain::Uuid;
using testing::after_ms;
using testing::connect;
using testing::TestCluster;

constexpr Statement kSelectTyped{
    "test_select_typed",
    "SELECT $1::int8, $2::text, $3::uuid, $4::bytea, $5::bool, $6::text, 7::int2, 8::int4"};
constexpr Statement kSelectAny{
    "test_select_any",
    "SELECT n FROM unnest($1::uuid[]) WITH ORDINALITY AS u(id, n) WHERE id = ANY ($2) ORDER BY n"};
constexpr Statement kInsertItem{"test_insert_item", "INSERT INTO items(name) VALUES ($1)"};
constexpr Statement kCountItems{"test_count_items", "SELECT count(*) FROM items"};

// "prefix7" (built by appending: GCC 12 warns wrongly about `"p" + std::to_string(i)`).
std::string numbered(const char* prefix, int i) {
  std::string text = prefix;
  text.append(std::to_string(i));
  return text;
}

// The failure `action` throws; fails the test when it throws none.
template <typename Action>
PgError failure_of(Action action) {
  try {
    action();
  } catch (const PgError& error) {
    return error;
  }
  ADD_FAILURE() << "no PgError thrown";
  return PgError(FailureKind::kInternal, "", "none");
}

class ConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    schema_ = TestCluster::get().fresh_schema();
    db_ = connect(TestCluster::get().tcp_url(schema_));
    db_->exec(
        "CREATE TABLE items (pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
        "name text NOT NULL UNIQUE, n integer NOT NULL DEFAULT 0)");
  }

  std::string schema_;
  std::unique_ptr<Connection> db_;
};

TEST_F(ConnectionTest, ConnectsOverTcpAndTheUnixSocketWithEitherScheme) {
  auto& cluster = TestCluster::get();
  std::string tcp = cluster.tcp_url(schema_);
  std::string postgres_scheme = "postgres://" + tcp.substr(tcp.find("://") + 3);
  for (const std::string& url : {tcp, postgres_scheme, cluster.socket_url(schema_)}) {
    auto db = connect(url);
    EXPECT_TRUE(db->ok());
    EXPECT_GT(db->backend_pid(), 0);
    EXPECT_EQ(db->query_once("SELECT current_schema()::text").text(0, 0), schema_) << url;
  }
}

TEST_F(ConnectionTest, LogsTheUrlWithItsPasswordMasked) {
  std::string url = TestCluster::get().tcp_url(schema_);
  std::string password = url.substr(url.find(':', 14) + 1);
  password = password.substr(0, password.find('@'));
  ASSERT_FALSE(password.empty());
  EXPECT_EQ(db_->masked_url().find(password), std::string::npos);
  EXPECT_NE(db_->masked_url().find(":***@127.0.0.1"), std::string::npos);
}

TEST_F(ConnectionTest, RefusedLoginIsUnavailableAndNeverShowsThePassword) {
  std::string url = TestCluster::get().tcp_url(schema_);
  std::string wrong =
      url.substr(0, url.find(':', 14) + 1) + "not-the-password-42" + url.substr(url.find('@'));
  PgError error =
      failure_of([&] { Connection(Connection::Options{.url = wrong}, after_ms(10'000)); });
  EXPECT_EQ(error.kind(), FailureKind::kUnavailable);
  EXPECT_EQ(error.sqlstate(), "08001");
  EXPECT_NE(std::string(error.what()).find("password authentication failed"), std::string::npos)
      << error.what();
  EXPECT_EQ(std::string(error.what()).find("not-the-password-42"), std::string::npos);
}

TEST_F(ConnectionTest, MalformedUrlIsInternal) {
  PgError error = failure_of([&] {
    Connection(Connection::Options{.url = "postgresql://h/db?no_such_option=1"}, after_ms(1000));
  });
  EXPECT_EQ(error.kind(), FailureKind::kInternal);
}

TEST_F(ConnectionTest, ClosedPortIsUnavailableAtOnce) {
  // A port nothing listens on: bind one, note it, close it.
  int probe = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(probe, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  socklen_t size = sizeof address;
  ::getsockname(probe, reinterpret_cast<sockaddr*>(&address), &size);
  ::close(probe);
  std::string url = "postgresql://u:p@127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/db";
  auto started = Clock::now();
  PgError error = failure_of([&] { Connection(Connection::Options{.url = url}, after_ms(5000)); });
  EXPECT_EQ(error.kind(), FailureKind::kUnavailable);
  EXPECT_LT(Clock::now() - started, std::chrono::seconds(1));
}

TEST_F(ConnectionTest, ServerThatNeverAnswersFailsAtTheDeadline) {
  // A listening socket that accepts (the kernel does) but never speaks: a hung server.
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  socklen_t size = sizeof address;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &size);
  std::string url = "postgresql://u:p@127.0.0.1:" + std::to_string(ntohs(address.sin_port)) +
                    "/db?sslmode=disable";
  auto started = Clock::now();
  PgError error = failure_of([&] { Connection(Connection::Options{.url = url}, after_ms(300)); });
  auto waited = Clock::now() - started;
  ::close(listener);
  EXPECT_EQ(error.kind(), FailureKind::kUnavailable);
  EXPECT_GE(waited, std::chrono::milliseconds(290));
  EXPECT_LT(waited, std::chrono::milliseconds(1500));
}

TEST_F(ConnectionTest, BindsAndReadsEveryTypeInBinary) {
  Uuid id = Uuid::v4();
  std::string bytes("\0\1\xff\x80zz", 6);
  Result row = db_->query(kSelectTyped, Params()
                                            .add(std::int64_t{-9'000'000'000})
                                            .add("héllo, 'world'")
                                            .add(id)
                                            .add_bytea(bytes)
                                            .add(true)
                                            .add(std::optional<std::string>()));
  ASSERT_EQ(row.rows(), 1);
  EXPECT_EQ(row.int64(0, 0), -9'000'000'000);
  EXPECT_EQ(row.text(0, 1), "héllo, 'world'");
  EXPECT_EQ(row.uuid(0, 2), id);
  EXPECT_EQ(row.bytea(0, 3), bytes);
  EXPECT_TRUE(row.boolean(0, 4));
  EXPECT_TRUE(row.is_null(0, 5));
  EXPECT_EQ(row.optional_text(0, 5), std::nullopt);
  EXPECT_EQ(row.int64(0, 6), 7);
  EXPECT_EQ(row.int64(0, 7), 8);
  // A NULL or a column of another type is a bug in the caller: an error, not a default.
  EXPECT_EQ(failure_of([&] { row.text(0, 5); }).kind(), FailureKind::kInternal);
  EXPECT_EQ(failure_of([&] { row.uuid(0, 0); }).kind(), FailureKind::kInternal);
}

TEST_F(ConnectionTest, SendsArraysForSetBasedLookups) {
  std::vector<Uuid> ids = {Uuid::v4(), Uuid::v4(), Uuid::v4(), Uuid::v4()};
  std::vector<Uuid> wanted = {ids[3], ids[1], Uuid::v4()};
  Result rows = db_->query(kSelectAny, Params().add(ids).add(wanted));
  ASSERT_EQ(rows.rows(), 2);
  EXPECT_EQ(rows.int64(0, 0), 2);
  EXPECT_EQ(rows.int64(1, 0), 4);

  std::vector<std::int64_t> numbers = {5, -1, 1LL << 40};
  std::vector<std::string> texts = {"a", "", "ü"};
  Result sums = db_->query_once(
      "SELECT (SELECT sum(x) FROM unnest($1::int8[]) x), array_to_string($2::text[], '|'), "
      "cardinality($3::uuid[])",
      Params().add(numbers).add(texts).add(std::vector<Uuid>{}));
  EXPECT_EQ(sums.text(0, 1), "a||ü");
  EXPECT_EQ(sums.int64(0, 2), 0);
  Result total =
      db_->query_once("SELECT sum(x)::int8 FROM unnest($1::int8[]) x", Params().add(numbers));
  EXPECT_EQ(total.int64(0, 0), 4 + (1LL << 40));
}

TEST_F(ConnectionTest, PreparesEachStatementOncePerConnection) {
  for (int i = 0; i < 3; ++i) db_->query(kInsertItem, Params().add(numbered("item ", i)));
  Result prepared = db_->query_once("SELECT count(*) FROM pg_prepared_statements WHERE name = $1",
                                    Params().add(kInsertItem.name));
  EXPECT_EQ(prepared.int64(0, 0), 1);
  EXPECT_EQ(db_->query(kCountItems).int64(0, 0), 3);
  // Another connection prepares its own.
  auto other = connect(TestCluster::get().tcp_url(schema_));
  EXPECT_EQ(other->query(kCountItems).int64(0, 0), 3);
}

TEST_F(ConnectionTest, PipelineRunsABatchAndReturnsResultsInOrder) {
  db_->exec("BEGIN");
  Pipeline pipeline(*db_);
  for (int i = 0; i < 100; ++i) pipeline.add(kInsertItem, Params().add(numbered("p", i)));
  std::size_t count = pipeline.add(kCountItems);
  std::size_t names = pipeline.add_once("SELECT string_agg(name, ',' ORDER BY pk) FROM items");
  std::vector<Result> results = pipeline.run();
  db_->exec("COMMIT");
  ASSERT_EQ(results.size(), 102u);
  EXPECT_EQ(results[0].affected(), 1);
  EXPECT_EQ(results[count].int64(0, 0), 100);
  EXPECT_TRUE(results[names].text(0, 0).starts_with("p0,p1,p2,"));
  EXPECT_EQ(pipeline.size(), 0u);
  // Prepared once, although the batch ran it a hundred times before the server had seen it.
  Result prepared = db_->query_once("SELECT count(*) FROM pg_prepared_statements WHERE name = $1",
                                    Params().add(kInsertItem.name));
  EXPECT_EQ(prepared.int64(0, 0), 1);
}

TEST_F(ConnectionTest, FailingStatementInAPipelineStopsTheRestAndReportsItsSqlstate) {
  db_->query(kInsertItem, Params().add("taken"));
  db_->exec("BEGIN");
  Pipeline pipeline(*db_);
  pipeline.add(kInsertItem, Params().add("first"));
  pipeline.add(kInsertItem, Params().add("taken"));
  pipeline.add(kInsertItem, Params().add("after"));
  PgError error = failure_of([&] { pipeline.run(); });
  EXPECT_EQ(error.kind(), FailureKind::kUniqueViolation);
  EXPECT_EQ(error.sqlstate(), "23505");
  db_->exec("ROLLBACK");
  EXPECT_TRUE(db_->ok());
  EXPECT_EQ(db_->query(kCountItems).int64(0, 0), 1);
}

TEST_F(ConnectionTest, DeferredBeginTravelsWithTheFirstStatement) {
  db_->defer("BEGIN ISOLATION LEVEL SERIALIZABLE");
  Result level = db_->query_once("SELECT current_setting('transaction_isolation')");
  EXPECT_EQ(level.text(0, 0), "serializable");
  EXPECT_FALSE(db_->has_deferred());
  db_->exec("COMMIT");
  // A failing deferred statement is reported by the call that sent it.
  db_->defer("BEGIN ISOLATION LEVEL NO_SUCH_LEVEL");
  EXPECT_EQ(failure_of([&] { db_->query(kCountItems); }).sqlstate(), "42601");
  EXPECT_TRUE(db_->ok());
}

TEST_F(ConnectionTest, UniqueViolationIsClassified) {
  db_->query(kInsertItem, Params().add("same"));
  PgError error = failure_of([&] { db_->query(kInsertItem, Params().add("same")); });
  EXPECT_EQ(error.kind(), FailureKind::kUniqueViolation);
  EXPECT_EQ(error.sqlstate(), "23505");
  EXPECT_TRUE(db_->ok());
}

TEST_F(ConnectionTest, SerializationFailureIsClassifiedAsRetry) {
  db_->exec("INSERT INTO items(name) VALUES ('counter')");
  auto other = connect(TestCluster::get().tcp_url(schema_));
  db_->exec("BEGIN ISOLATION LEVEL SERIALIZABLE");
  db_->query_once("SELECT n FROM items WHERE name = 'counter'");  // takes the snapshot
  other->exec("UPDATE items SET n = n + 1 WHERE name = 'counter'");
  PgError error =
      failure_of([&] { db_->query_once("UPDATE items SET n = n + 10 WHERE name = 'counter'"); });
  EXPECT_EQ(error.sqlstate(), "40001");
  EXPECT_EQ(error.kind(), FailureKind::kRetry);
  db_->exec("ROLLBACK");
}

TEST_F(ConnectionTest, DeadlockIsClassifiedAsRetry) {
  db_->exec("INSERT INTO items(name) VALUES ('a'), ('b'); SET deadlock_timeout = '50ms'");
  auto other = connect(TestCluster::get().tcp_url(schema_));
  other->exec("SET deadlock_timeout = '50ms'");
  db_->exec("BEGIN; UPDATE items SET n = 1 WHERE name = 'a'");
  other->exec("BEGIN; UPDATE items SET n = 2 WHERE name = 'b'");
  auto crossing = std::async(std::launch::async, [&]() -> std::optional<PgError> {
    try {
      other->exec("UPDATE items SET n = 2 WHERE name = 'a'");
      return std::nullopt;
    } catch (const PgError& error) {
      return error;
    }
  });
  std::optional<PgError> mine;
  try {
    db_->exec("UPDATE items SET n = 1 WHERE name = 'b'");
  } catch (const PgError& error) {
    mine = error;
  }
  std::optional<PgError> theirs = crossing.get();
  // Exactly one of the two is chosen as the victim.
  ASSERT_NE(mine.has_value(), theirs.has_value());
  const PgError& victim = mine ? *mine : *theirs;
  EXPECT_EQ(victim.sqlstate(), "40P01");
  EXPECT_EQ(victim.kind(), FailureKind::kRetry);
  db_->exec("ROLLBACK");
  other->exec("ROLLBACK");
}

TEST_F(ConnectionTest, TerminatedBackendIsUnavailableAndClosesTheConnection) {
  auto admin = connect(TestCluster::get().admin_url());
  // pg_terminate_backend(pid, timeout) waits until the backend is gone.
  Result terminated = admin->query_once("SELECT pg_terminate_backend($1::int4, 5000)",
                                        Params().add(db_->backend_pid()));
  ASSERT_TRUE(terminated.boolean(0, 0));
  PgError error = failure_of([&] { db_->query(kCountItems); });
  EXPECT_EQ(error.kind(), FailureKind::kUnavailable) << error.what();
  EXPECT_FALSE(db_->ok());
  // Later calls fail the same way at once, without touching the network.
  EXPECT_EQ(failure_of([&] { db_->exec("SELECT 1"); }).kind(), FailureKind::kUnavailable);
}

TEST_F(ConnectionTest, WaitEndsAtTheDeadlineWhenTheServerDoesNotAnswer) {
  auto locker = connect(TestCluster::get().tcp_url(schema_));
  locker->exec("BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE");
  db_->set_deadline(after_ms(300));
  auto started = Clock::now();
  PgError error = failure_of([&] { db_->query(kCountItems); });
  auto waited = Clock::now() - started;
  EXPECT_EQ(error.kind(), FailureKind::kUnavailable);
  EXPECT_GE(waited, std::chrono::milliseconds(290));
  EXPECT_LT(waited, std::chrono::milliseconds(1500));
  EXPECT_FALSE(db_->ok());
  locker->exec("ROLLBACK");
}

TEST_F(ConnectionTest, StatementTimeoutIsSetFromTheOptions) {
  Connection db(Connection::Options{.url = TestCluster::get().tcp_url(schema_),
                                    .statement_timeout = std::chrono::milliseconds(250)},
                after_ms(10'000));
  EXPECT_EQ(db.query_once("SELECT current_setting('statement_timeout')").text(0, 0), "250ms");
  PgError error = failure_of([&] { db.query_once("SELECT pg_sleep(5)"); });
  EXPECT_EQ(error.sqlstate(), "57014");
  EXPECT_EQ(error.kind(), FailureKind::kUnavailable);
  EXPECT_TRUE(db.ok());
}

}  // namespace
}  // namespace invited::store::postgres
