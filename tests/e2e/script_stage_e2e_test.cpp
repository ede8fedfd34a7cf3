// End-to-end: a user's own Python scripts as stages (stage_shell), the way
// they come from DVC: params in (their own and params.yaml keys), outputs
// written at their own relative paths, swept as experiments that each run
// in a working tree of their own. Real binary, Debian's /usr/bin/python3.
#include <gmock/gmock.h>

#include <filesystem>

#include "script_project.h"
#include "subprocess.h"

namespace cadenza {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

class ScriptStageE2E : public ::testing::Test {
 protected:
  void SetUp() override { test::write_script_project(ws, trace()); }
  std::string trace() const { return shared.str() + "/trace.txt"; }

  test::TempDir shared;
  Workspace ws{""};
};

TEST_F(ScriptStageE2E, AScriptGetsItsOwnParamsThreeWaysAndWritesItsOutputsInPlace) {
  auto r = ws.cadenza({"run"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto model = test::trained(ws);
  EXPECT_EQ(model["lr"], 0.01);
  EXPECT_EQ(model["hidden"], 16);
  EXPECT_EQ(model["env_hidden"], "16");
  EXPECT_EQ(model["argv"], nlohmann::json::parse(R"(["--hidden", "16"])"));
  EXPECT_EQ(model["lines"], 3);
  EXPECT_EQ(model["cwd"], fs::canonical(ws.path()).string());
  EXPECT_EQ(ws.read("data/processed/lines.txt"), "ONE\nTWO\nTHREE\n");
  // The lock records the script's params and the tracked key.
  EXPECT_THAT(ws.read("workflow.lock"), HasSubstr("\"params.yaml:train.lr\""));
  EXPECT_THAT(ws.cadenza({"status"}).output, Not(HasSubstr("stale")));
}

TEST_F(ScriptStageE2E, OnlyTrackedParamsFileKeysRerunAndStatusNamesTheKey) {
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 0);
  // Another key, a comment and the layout: nothing reruns.
  ws.write("params.yaml", "# hyperparameters, tuned\ntrain:\n    lr: 0.01\n    epochs: 30\nmodel:\n  kind: gru\n");
  auto r = ws.cadenza({"run"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(test::executions(trace(), "train"), 1) << r.output;
  // The tracked key: train reruns, prepare does not, and status says why.
  ws.write("params.yaml", "# hyperparameters, tuned\ntrain:\n    lr: 0.02\n    epochs: 30\nmodel:\n  kind: gru\n");
  EXPECT_THAT(ws.cadenza({"status"}).output, HasSubstr("params.yaml:train.lr 0.01 -> 0.02"));
  r = ws.cadenza({"run", "--explain"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("params.yaml:train.lr 0.01 -> 0.02"));
  EXPECT_EQ(test::executions(trace(), "train"), 2);
  EXPECT_EQ(test::executions(trace(), "prepare"), 1);
  EXPECT_EQ(test::trained(ws)["lr"], 0.02);
}

// The sweep a DVC user runs with `dvc exp run -S`: one params.yaml key and
// one of the script's own params, 2 x 2, two experiments at a time.
TEST_F(ScriptStageE2E, ASweepGivesEachVariantItsValuesAndItsOwnWorkingTree) {
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 0);
  const std::string model_before = ws.read("models/model.json");
  const std::string params_before = ws.read("params.yaml");
  auto r = ws.cadenza({"exp", "run", "-j", "2", "--grid", "params.yaml:train.lr=0.1,0.2", "--grid", "train.hidden=8,32"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const double lr : {0.1, 0.2})
    for (const int hidden : {8, 32}) {
      std::ostringstream name;
      name << "lr-" << lr << "+hidden-" << hidden;
      const std::string tree = ".cadenza/exps/" + name.str() + "/ws/";
      const auto model = test::trained(ws, tree);
      EXPECT_EQ(model["lr"], lr) << name.str();
      EXPECT_EQ(model["hidden"], hidden) << name.str();
      EXPECT_EQ(model["cwd"], fs::canonical(ws.path() / tree).string());
      // Its own params.yaml: only the value differs, the comment stays.
      EXPECT_EQ(ws.read(tree + "params.yaml"),
                "# hyperparameters\ntrain:\n  lr: " + std::string(lr == 0.1 ? "0.1" : "0.2") +
                    "  # Adam's step\n  epochs: 3\nmodel:\n  kind: lstm\n");
      EXPECT_TRUE(fs::is_symlink(ws.path() / tree / "src")) << "undeclared code is visible by a link";
    }
  // The workspace's own files are untouched; prepare ran once for all.
  EXPECT_EQ(ws.read("models/model.json"), model_before);
  EXPECT_EQ(ws.read("params.yaml"), params_before);
  EXPECT_EQ(test::executions(trace(), "prepare"), 1);
  EXPECT_EQ(test::executions(trace(), "train"), 5);
  // exp show has the swept values as params.
  const auto rows = nlohmann::json::parse(ws.cadenza({"exp", "show", "--json"}).output);
  ASSERT_EQ(rows.size(), 4u);
  for (const auto& row : rows) {
    EXPECT_EQ(row["status"], "succeeded");
    EXPECT_TRUE(row["params"].contains("params.yaml:train.lr")) << row.dump();
  }
}

TEST_F(ScriptStageE2E, AFailingScriptLeavesThePreviousOutputIntact) {
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 0);
  const std::string before = ws.read("models/model.json");
  std::string wf = ws.read("workflow.toml");
  wf.replace(wf.find("fail = false"), 12, "fail = true");
  ws.write("workflow.toml", wf);
  auto r = ws.cadenza({"run"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("your command exited with code 3"));
  EXPECT_EQ(ws.read("models/model.json"), before);
  EXPECT_FALSE(ws.exists("models/partial.txt")) << "nothing half-written is left";
}

TEST_F(ScriptStageE2E, ACommandThatWritesNoOutputIsToldWhereToWriteIt) {
  std::string wf = ws.read("workflow.toml");
  wf.replace(wf.find("/usr/bin/python3 src/prepare.py"), 31, "true");
  ws.write("workflow.toml", wf);
  auto r = ws.cadenza({"run", "--stage", "prepare"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("your command must create it, at data/processed in its working directory or at "
                                  "{out:processed}"));
}

TEST_F(ScriptStageE2E, AnOverrideNoStageReadsStopsBeforeAnythingRuns) {
  ws.write("workflow.toml", "[params]\nlr = 0.01\n\n" + ws.read("workflow.toml"));
  auto r = ws.cadenza({"exp", "run", "--set", "params.lr=0.1"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("no stage uses [params].lr"));
  r = ws.cadenza({"exp", "run", "--set", "train.hidden=abc"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("param 'hidden' is an integer (16 in"));
  r = ws.cadenza({"exp", "run", "--set", "params.yaml:train.epochs=4"});
  EXPECT_THAT(r.output, HasSubstr("no stage tracks key 'train.epochs' of params.yaml"));
  EXPECT_FALSE(ws.exists(".cadenza/exps/index.jsonl"));
  EXPECT_FALSE(ws.exists(trace())) << "nothing ran";
}

// A Python stage's memory is its interpreter's, not the shell's.
TEST_F(ScriptStageE2E, PeakMemoryIsTheScriptsOwn) {
  ws.write("workflow.toml",
           "[stages.big]\nplugin = \"shell\"\nouts = { o = \"out/big\" }\n"
           "params = { cmd = \"/usr/bin/python3 -c 'b = bytearray(160 * 1024 * 1024); b[::4096] = b\\\"x\\\" * len(b[::4096])' "
           "&& echo done > out/big\" }\n");
  auto r = ws.cadenza({"run"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_GT(ws.result("big")["peak_rss_mb"].get<double>(), 150.0) << r.output;
}

// A directory output that git tracks a file in (logs/tensorboard/.gitkeep)
// keeps it when the stage replaces the directory.
TEST_F(ScriptStageE2E, ADirectoryOutputKeepsTheFilesGitTracksInIt) {
  ws.write("workflow.toml",
           "[stages.log]\nplugin = \"shell\"\nouts = { logs = \"logs/tensorboard\" }\n"
           "params = { cmd = \"mkdir -p logs/tensorboard/run1 && echo e > logs/tensorboard/run1/events\" }\n");
  ws.write("logs/tensorboard/.gitkeep", "");
  ws.write(".gitignore", ".cadenza/\nworkflow.lock\n");
  auto git = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"git", "-C", ws.str(), "-c", "user.name=t", "-c", "user.email=t@example.org"});
    return run_process(args);
  };
  ASSERT_TRUE(git({"init", "-q"}).ok());
  ASSERT_TRUE(git({"add", "-A"}).ok());
  ASSERT_TRUE(git({"commit", "-q", "-m", "init"}).ok());
  auto r = ws.cadenza({"run"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(ws.exists("logs/tensorboard/run1/events"));
  EXPECT_TRUE(ws.exists("logs/tensorboard/.gitkeep"));
  EXPECT_THAT(git({"status", "--porcelain", "--", "logs/tensorboard/.gitkeep"}).out, Not(HasSubstr(".gitkeep")));
  EXPECT_THAT(ws.cadenza({"status"}).output, Not(HasSubstr("modified")));
}

// `exp run --detach`: checked first, then on in the background.
TEST_F(ScriptStageE2E, ASweepCanBeDetached) {
  auto r = ws.cadenza({"exp", "run", "--detach", "--grid", "train.hidden=4,5"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("2 experiments go on in the background"));
  EXPECT_THAT(r.output, HasSubstr("hidden-4"));
  ASSERT_TRUE(wait_until([&] {
    const auto rows = nlohmann::json::parse(ws.cadenza({"exp", "show", "--json"}).output);
    int done = 0;
    for (const auto& row : rows) done += row["status"] == "succeeded";
    return done == 2;
  }, 120));
  EXPECT_EQ(test::trained(ws, ".cadenza/exps/hidden-5/ws/")["hidden"], 5);
  // A bad sweep is refused here, not in the background.
  r = ws.cadenza({"exp", "run", "--detach", "--set", "train.nope=1"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("param 'nope' is not in"));
}

}  // namespace
}  // namespace cadenza
