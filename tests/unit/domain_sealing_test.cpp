#include <gtest/gtest.h>
#include <sodium.h>

#include <string>

#include "domain/sealing.hpp"

namespace invited::domain {
namespace {

class Sealing : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_GE(sodium_init(), 0); }
};

TEST_F(Sealing, OpensWithTheKeyOfTheSameSecretAndPurpose) {
  const std::string plain = R"({"api_key":"ik_secret","name":"n"})";
  auto sealed = seal(derive_seal_key("ik_caller", "purpose"), plain);
  EXPECT_EQ(sealed.find("ik_secret"), std::string::npos);
  auto opened = unseal(derive_seal_key("ik_caller", "purpose"), sealed);
  ASSERT_TRUE(opened);
  EXPECT_EQ(*opened, plain);
}

TEST_F(Sealing, DoesNotOpenUnderAnotherSecretOrPurpose) {
  auto sealed = seal(derive_seal_key("ik_caller", "purpose"), "body");
  EXPECT_FALSE(unseal(derive_seal_key("ik_other", "purpose"), sealed));
  EXPECT_FALSE(unseal(derive_seal_key("ik_caller", "other purpose"), sealed));
}

TEST_F(Sealing, RefusesAlteredOrMalformedText) {
  auto key = derive_seal_key("ik_caller", "purpose");
  auto sealed = seal(key, "body");
  std::string altered = sealed;
  altered[altered.size() / 2] = altered[altered.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(unseal(key, altered));
  EXPECT_FALSE(unseal(key, "not base64 !"));
  EXPECT_FALSE(unseal(key, ""));
  EXPECT_FALSE(unseal(key, R"({"plain":"json"})"));
}

TEST_F(Sealing, SealsTheSameTextDifferentlyEachTimeAndKeepsEmptyText) {
  auto key = derive_seal_key("ik_caller", "purpose");
  EXPECT_NE(seal(key, "body"), seal(key, "body"));
  auto opened = unseal(key, seal(key, ""));
  ASSERT_TRUE(opened);
  EXPECT_EQ(*opened, "");
}

}  // namespace
}  // namespace invited::domain
