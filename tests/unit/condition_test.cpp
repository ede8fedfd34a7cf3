// Stop rules and --where filters: comparisons joined by &&.
#include "condition.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "error.h"

namespace cadenza {
namespace {

using nlohmann::json;

Condition::Lookup values(const json& v) {
  return [v](const std::string& name) -> std::optional<json> {
    if (!v.contains(name)) return std::nullopt;
    return v[name];
  };
}

TEST(Condition, ComparisonsJoinedByAnd) {
  const auto c = Condition::parse("val/esr < 0.01 && epoch >= 3", "stop_when");
  EXPECT_TRUE(c.holds(values({{"val/esr", 0.005}, {"epoch", 3}})));
  EXPECT_FALSE(c.holds(values({{"val/esr", 0.005}, {"epoch", 2}})));
  EXPECT_FALSE(c.holds(values({{"epoch", 5}})));  // a value not reported yet: false
  EXPECT_EQ(c.names(), (std::vector<std::string>{"val/esr", "epoch"}));
}

// A quoted value may hold && or an operator: it split the condition there.
TEST(Condition, AQuotedValueMayHoldAndOrAnOperator) {
  const auto c = Condition::parse("note == \"a && b < c\" && phase != 'x>y'", "--where");
  EXPECT_TRUE(c.holds(values({{"note", "a && b < c"}, {"phase", "warmup"}})));
  EXPECT_FALSE(c.holds(values({{"note", "a && b < c"}, {"phase", "x>y"}})));
  EXPECT_EQ(c.names(), (std::vector<std::string>{"note", "phase"}));
}

TEST(Condition, NotAComparisonIsAnErrorNamingItsSource) {
  try {
    Condition::parse("loss > 1 && oops", "stop_when");
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("stop_when: 'oops' is not a comparison"));
  }
}

}  // namespace
}  // namespace cadenza
