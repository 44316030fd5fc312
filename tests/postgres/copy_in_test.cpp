// Connection::copy_in (COPY ... FROM STDIN), which `invited admin copy-to` streams every table
// through, against a real cluster.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "store/postgres/binary.hpp"
#include "store/postgres/connection.hpp"
#include "test_cluster.hpp"

namespace invited::store::postgres {
namespace {

using testing::connect;
using testing::TestCluster;

class CopyInTest : public ::testing::Test {
 protected:
  void SetUp() override {
    schema_ = TestCluster::get().fresh_schema();
    db_ = connect(TestCluster::get().tcp_url(schema_));
    db_->exec(
        "CREATE TABLE items (pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
        "name text NOT NULL UNIQUE)");
  }

  std::int64_t count() { return db_->query_once("SELECT count(*) FROM items").int64(0, 0); }

  std::string schema_;
  std::unique_ptr<Connection> db_;
};

constexpr const char* kCopyText = "COPY items (pk, name) FROM STDIN";

TEST_F(CopyInTest, StreamsRowsInManyChunksAndKeepsGivenIdentityKeys) {
  std::int64_t copied = db_->copy_in(kCopyText, [](const Connection::CopySend& send) {
    std::string chunk;
    for (int i = 1; i <= 50'000; ++i) {
      chunk.append(std::to_string(i * 10)).append("\titem ").append(std::to_string(i)) += '\n';
      if (chunk.size() > 4096) {
        send(chunk);
        chunk.clear();
      }
    }
    send(chunk);
  });
  EXPECT_EQ(copied, 50'000);
  EXPECT_EQ(count(), 50'000);
  // A GENERATED ALWAYS identity column takes the copied keys as they are.
  EXPECT_EQ(db_->query_once("SELECT max(pk) FROM items").int64(0, 0), 500'000);
  EXPECT_EQ(db_->query_once("SELECT name FROM items WHERE pk = 70").text(0, 0), "item 7");
}

TEST_F(CopyInTest, BinaryFormatRoundTrips) {
  std::int64_t copied = db_->copy_in("COPY items (pk, name) FROM STDIN (FORMAT binary)",
                                     [](const Connection::CopySend& send) {
                                       std::string data("PGCOPY\n\377\r\n\0", 11);
                                       binary::put_int32(data, 0);
                                       binary::put_int32(data, 0);
                                       data += std::string("\0\2", 2);  // two fields
                                       binary::put_int32(data, 8);
                                       binary::put_int64(data, 42);
                                       binary::put_int32(data, 3);
                                       data += "abc";
                                       data += std::string("\377\377", 2);  // the end
                                       send(data);
                                     });
  EXPECT_EQ(copied, 1);
  EXPECT_EQ(db_->query_once("SELECT name FROM items WHERE pk = 42").text(0, 0), "abc");
}

TEST_F(CopyInTest, AConstraintViolationThrowsItsSqlstateAndCopiesNothing) {
  PgError failure(FailureKind::kInternal, "", "none");
  try {
    // The refused row comes first; megabytes follow, in chunks, after the server gave up.
    db_->copy_in(kCopyText, [](const Connection::CopySend& send) {
      send("1\tsame\n2\tsame\n");
      std::string chunk;
      for (int i = 3; i < 400'000; ++i) {
        chunk.append(std::to_string(i)).append("\tname ").append(std::to_string(i)) += '\n';
        if (chunk.size() > 65536) {
          send(chunk);
          chunk.clear();
        }
      }
      send(chunk);
    });
    ADD_FAILURE() << "no failure";
  } catch (const PgError& error) {
    failure = error;
  }
  EXPECT_EQ(failure.kind(), FailureKind::kUniqueViolation) << failure.what();
  EXPECT_TRUE(db_->ok());
  EXPECT_EQ(count(), 0);
}

TEST_F(CopyInTest, AWriterThatThrowsCancelsTheCopyInsideItsTransaction) {
  db_->exec("BEGIN");
  EXPECT_THROW(db_->copy_in(kCopyText,
                            [](const Connection::CopySend& send) {
                              send("1\tfirst\n");
                              throw std::runtime_error("a value that does not fit");
                            }),
               std::runtime_error);
  // The connection is still usable; the transaction failed and rolls back.
  ASSERT_TRUE(db_->ok());
  db_->exec("ROLLBACK");
  EXPECT_EQ(count(), 0);
  // And the next copy works.
  EXPECT_EQ(db_->copy_in(kCopyText, [](const Connection::CopySend& send) { send("1\tfirst\n"); }),
            1);
}

TEST_F(CopyInTest, AStatementThatIsNotCopyFromStdinIsRefused) {
  EXPECT_THROW(db_->copy_in("SELECT 1", [](const Connection::CopySend&) {}), PgError);
  EXPECT_TRUE(db_->ok());
  EXPECT_EQ(db_->query_once("SELECT 2::int8").int64(0, 0), 2);
}

}  // namespace
}  // namespace invited::store::postgres
