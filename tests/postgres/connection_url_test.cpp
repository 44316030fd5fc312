#include "store/postgres/connection_url.hpp"

#include <gtest/gtest.h>

#include "store/postgres/error.hpp"

namespace invited::store::postgres {
namespace {

TEST(ConnectionUrl, MasksThePasswordOfBothSchemes) {
  EXPECT_EQ(mask_password("postgresql://invited:s3cret@db.example:5432/invited?sslmode=require"),
            "postgresql://invited:***@db.example:5432/invited?sslmode=require");
  EXPECT_EQ(mask_password("postgres://u:p%40ss@127.0.0.1/db"), "postgres://u:***@127.0.0.1/db");
  EXPECT_EQ(mask_password("POSTGRESQL://u:pw@h/db"), "POSTGRESQL://u:***@h/db");
}

TEST(ConnectionUrl, MasksPasswordParameters) {
  EXPECT_EQ(mask_password("postgresql://h/db?user=u&password=secret&sslmode=verify-full"),
            "postgresql://h/db?user=u&password=***&sslmode=verify-full");
  EXPECT_EQ(mask_password("host=h password = 'a b\\' c' dbname=db"),
            "host=h password = *** dbname=db");
  EXPECT_EQ(mask_password("host=h password=secret dbname=db"), "host=h password=*** dbname=db");
}

TEST(ConnectionUrl, KeepsUrlsWithoutPassword) {
  EXPECT_EQ(mask_password("postgresql://u@h:5432/db"), "postgresql://u@h:5432/db");
  EXPECT_EQ(mask_password("postgresql:///db?host=/tmp/x&port=5"),
            "postgresql:///db?host=/tmp/x&port=5");
  // A '@' after the first '/' is not user info (libpq reads it the same way).
  EXPECT_EQ(mask_password("postgresql://h/db?application_name=a:b@c"),
            "postgresql://h/db?application_name=a:b@c");
}

TEST(ConnectionUrl, RecognisesBothSchemes) {
  EXPECT_TRUE(is_connection_url("postgresql://h/db"));
  EXPECT_TRUE(is_connection_url("postgres://h/db"));
  EXPECT_FALSE(is_connection_url("sqlite:///tmp/x.db"));
  EXPECT_FALSE(is_connection_url("host=h dbname=db"));
}

TEST(FailureKinds, ClassifySqlstates) {
  EXPECT_EQ(classify_sqlstate("40001"), FailureKind::kRetry);
  EXPECT_EQ(classify_sqlstate("40P01"), FailureKind::kRetry);
  EXPECT_EQ(classify_sqlstate("23505"), FailureKind::kUniqueViolation);
  for (const char* unavailable :
       {"08000", "08003", "08006", "08001", "08P01", "57P01", "57P02", "57P03", "53300", "57014"}) {
    EXPECT_EQ(classify_sqlstate(unavailable), FailureKind::kUnavailable) << unavailable;
  }
  for (const char* internal : {"", "23503", "42P01", "42601", "22P02", "28P01", "40002"}) {
    EXPECT_EQ(classify_sqlstate(internal), FailureKind::kInternal) << internal;
  }
}

}  // namespace
}  // namespace invited::store::postgres
