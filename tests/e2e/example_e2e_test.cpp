// End-to-end: the repository's own example workflow, in a temporary copy.
#include <gmock/gmock.h>

#include "subprocess.h"
#include "workspace.h"

namespace cadenza {
namespace {

using ::testing::HasSubstr;

TEST(ExampleE2E, TheExampleWorkflowRunsAndLogsToTensorBoard) {
  test::TempDir ws;
  std::string example = read_file(std::string(CADENZA_TEST_SOURCE_DIR) + "/../workflow.toml");
  // A shorter recording and one epoch keep the test fast; the rest is as shipped.
  for (auto [from, to] : {std::pair<std::string, std::string>{"duration_s = 30.0", "duration_s = 5.0"},
                          {"epochs = 8", "epochs = 1"}}) {
    ASSERT_NE(example.find(from), std::string::npos) << from;
    example.replace(example.find(from), from.size(), to);
  }
  ws.write("workflow.toml", example);
  auto r = test::run_cadenza(ws.str(), {"run"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto dataset = nlohmann::json::parse(ws.read("out/dataset/dataset.json"));
  EXPECT_EQ(dataset["sample_rate"], 44100);
  EXPECT_EQ(dataset["frames"], 5 * 44100);
  const ProcessResult read = run_process({"/usr/bin/python3", std::string(CADENZA_TEST_SOURCE_DIR) + "/tensorboard/read_events.py",
                                          ws.str() + "/logs/tensorboard"});
  ASSERT_TRUE(read.ok()) << read.err;
  auto run = nlohmann::json::parse(read.out)["demo"];
  EXPECT_EQ(run["audio"]["demo/wet"][0][1]["frames"], 2 * 44100);
  EXPECT_EQ(run["session_start_info"][0]["hparams"]["synth.seed"], 7.0);
  EXPECT_EQ(run["session_end_info"].size(), 3u);
  EXPECT_EQ(run["scalars"]["val/esr"].size(), 1u);
  EXPECT_EQ(run["audio"]["val/prediction"].size(), 1u);
  auto summary = nlohmann::json::parse(ws.read("out/model/summary.json"));
  EXPECT_EQ(summary["epochs_run"], 1);
  EXPECT_TRUE(ws.exists("out/model/model.pt"));
  EXPECT_THAT(test::run_cadenza(ws.str(), {"run"}).output, HasSubstr("0 ran, 3 up to date"));
}

TEST(ExampleE2E, TheDemoDataIsDeterministic) {
  const std::string stage =
      "[stages.synth]\nplugin = \"synth_pedal\"\nouts = { dry = \"dry.wav\", wet = \"wet.wav\" }\n"
      "params = { seed = 3, duration_s = 2.0 }\n";
  Workspace a(stage), b(stage);
  ASSERT_EQ(a.cadenza({"run"}).exit_code, 0);
  ASSERT_EQ(b.cadenza({"run"}).exit_code, 0);
  EXPECT_EQ(a.read("dry.wav"), b.read("dry.wav"));
  EXPECT_EQ(a.read("wet.wav"), b.read("wet.wav"));
  EXPECT_NE(a.read("dry.wav"), a.read("wet.wav"));
  EXPECT_GT(a.read("dry.wav").size(), 2u * 44100 * 4);
}

}  // namespace
}  // namespace cadenza
