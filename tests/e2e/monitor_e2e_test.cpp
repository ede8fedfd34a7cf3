// End-to-end: status, logs -f and cancel from another "terminal" on a live run.
#include <gmock/gmock.h>

#include <thread>

#include "workspace.h"

namespace cadenza {
namespace {

using ::testing::HasSubstr;

const std::string kStages =
    worker("prep", "data/in.txt", "out/prep") +
    worker("train", "out/prep", "out/model", "mode = \"wait_cancel\"") +
    worker("export", "out/model", "out/exported");

// Polls `status --json` until `stage` is in `state`.
nlohmann::json wait_for_state(Workspace& ws, const std::string& stage, const std::string& state) {
  for (int i = 0; i < 200; ++i) {
    auto r = ws.cadenza({"status", "--json"});
    try {
      auto j = nlohmann::json::parse(r.output);
      if (j.contains("stages"))
        for (const auto& s : j["stages"])
          if (s["stage"] == stage && s["state"] == state) return j;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << stage << " never reached " << state;
  return {};
}

TEST(MonitorE2E, StatusLogsAndCancelOnALiveRun) {
  Workspace ws(kStages);
  test::CliProcess run(ws.str(), {"run"});
  auto live = wait_for_state(ws, "train", "running");
  ASSERT_FALSE(live.is_null());
  EXPECT_EQ(live["running"], true);
  EXPECT_EQ(live["stages"][0]["state"], "succeeded");
  EXPECT_EQ(live["stages"][0]["metrics"]["test/length"], 6.0);
  EXPECT_TRUE(live["stages"][1].contains("elapsed_s"));
  EXPECT_EQ(live["stages"][2]["state"], "waiting");

  auto text = ws.cadenza({"status"});
  EXPECT_THAT(text.output, HasSubstr("running for"));
  EXPECT_THAT(text.output, HasSubstr("train   running"));

  EXPECT_THAT(ws.cadenza({"logs", "train"}).output, HasSubstr("mode wait_cancel"));
  test::CliProcess follow(ws.str(), {"logs", "-f", "train"});
  ASSERT_TRUE(follow.wait_for_output("mode wait_cancel"));

  auto cancel = ws.cadenza({"cancel", "train"});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.output;
  EXPECT_THAT(cancel.output, HasSubstr("train: cancelled"));
  auto followed = follow.wait();  // logs -f ends with the stage
  EXPECT_EQ(followed.exit_code, 0);

  auto finished = run.wait();
  EXPECT_EQ(finished.exit_code, 1);
  EXPECT_THAT(finished.output, HasSubstr("[train] cancel requested"));
  EXPECT_THAT(finished.output, HasSubstr("1 ran, 1 cancelled, 1 not run"));
  EXPECT_FALSE(ws.exists("out/model"));
  EXPECT_FALSE(ws.exists("out/exported"));
  // Nothing partial entered the cache: train is not restorable.
  EXPECT_THAT(ws.cadenza({"status"}).output, HasSubstr("train   stale: never ran"));
  EXPECT_THAT(ws.cadenza({"cancel", "train"}).output, HasSubstr("is not running; nothing to cancel"));
}

TEST(MonitorE2E, CancelAllStopsTheRun) {
  Workspace ws(kStages);
  test::CliProcess run(ws.str(), {"run"});
  ASSERT_FALSE(wait_for_state(ws, "train", "running").is_null());
  EXPECT_EQ(ws.cadenza({"cancel", "--all"}).exit_code, 0);
  auto finished = run.wait();
  EXPECT_EQ(finished.exit_code, 130) << finished.output;
}

TEST(MonitorE2E, LogsAndCancelErrors) {
  Workspace ws(kStages);
  EXPECT_THAT(ws.cadenza({"logs", "train"}).output, HasSubstr("no run of"));
  ws.write("workflow.toml", "[workflow]\nname = \"e2e\"\n" + worker("prep", "data/in.txt", "out/prep"));
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 0);
  EXPECT_THAT(ws.cadenza({"logs", "nope"}).output, HasSubstr("stage 'nope' is not part of run"));
  EXPECT_THAT(ws.cadenza({"logs", "prep"}).output, HasSubstr("mode copy"));
  EXPECT_THAT(ws.cadenza({"cancel"}).output, HasSubstr("usage: cadenza cancel"));
  EXPECT_THAT(ws.cadenza({"cancel", "--all"}).output, HasSubstr("is not running"));
  // A finished run: status shows the cache view again.
  EXPECT_EQ(ws.cadenza({"status"}).output, "prep  up to date\n");
}

}  // namespace
}  // namespace cadenza
