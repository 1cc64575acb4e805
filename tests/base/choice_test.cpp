#include <gtest/gtest.h>

#include "sfvu/base/choice.h"

namespace sfvu {
namespace {

TEST(ChoiceProblem, NamesTheChoicesAndTheValueOnlyWhenTheValueIsNoneOfThem) {
  EXPECT_EQ(choice_problem("place", {"place", "channel"}), "");
  EXPECT_EQ(choice_problem("channel", {"place", "channel"}), "");
  EXPECT_EQ(choice_problem("chanel", {"place", "channel"}), "must be 'place' or 'channel', not 'chanel'");
  EXPECT_EQ(choice_problem("", {"on", "off"}), "must be 'on' or 'off', not ''");
  EXPECT_EQ(choice_problem("fast", {"slowfast", "slow", "fastest"}),
            "must be one of 'slowfast', 'slow', or 'fastest', not 'fast'");
  EXPECT_EQ(choice_problem("slow", {"slowfast", "slow", "fastest"}), "");
  EXPECT_EQ(choice_problem("x", {"only"}), "must be 'only', not 'x'");
}

}  // namespace
}  // namespace sfvu
