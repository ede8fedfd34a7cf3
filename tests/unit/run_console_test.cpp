// What `cadenza run` draws on a terminal while stages run.
#include "run_console.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "test_util.h"

namespace cadenza {
namespace {

using ::testing::HasSubstr;

// Many running stages made a bar wider than the terminal; it wrapped, and
// the redraw in place (\r) then left a trail of half bars.
TEST(RunConsole, TheProgressBarFitsTheTerminalAndCountsTheRest) {
  test::TempDir dir;
  std::vector<RunConsole::Running> running;
  for (int i = 0; i < 8; ++i) {
    const std::string stage = "train-variant-" + std::to_string(i);
    dir.write(stage + "/progress.json", R"({"done": 3, "total": 10, "unit": "epochs"})");
    running.push_back({stage, dir.str() + "/" + stage + "/progress.json"});
  }
  for (int width : {60, 120, 12}) {
    std::ostringstream out;
    RunConsole console(out, true, [width] { return width; });
    console.show_progress(running, 100.0);
    std::string bar = out.str();
    ASSERT_EQ(bar.rfind("\r\033[K", 0), 0u) << bar;
    bar = bar.substr(4);
    EXPECT_LE(bar.size(), static_cast<size_t>(std::max(width - 1, 10))) << width << ": " << bar;
    if (width >= 60) {
      EXPECT_THAT(bar, HasSubstr("[train-variant-0] ######.............. 3/10 epochs"));
      EXPECT_THAT(bar, ::testing::MatchesRegex(".* \\+[0-9] more")) << bar;
    }
  }
}

}  // namespace
}  // namespace cadenza
