// End-to-end: the real `cadenza` binary on real workflow files.
#include <gmock/gmock.h>

#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "test_util.h"
#include "workspace.h"

namespace cadenza {
namespace {

using test::run_cadenza;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(RunE2E, RunsAPipelineAndWritesOutputs) {
  Workspace ws(worker("a", "data/in.txt", "build/a.txt", "upper = true") +
               worker("b", "build/a.txt", "build/b.txt", "suffix = \"!\""));
  auto r = ws.cadenza({"run"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ws.read("build/b.txt"), "HELLO\n!");
  EXPECT_THAT(r.output, HasSubstr("[a] started (stage_test_worker)"));
  EXPECT_THAT(r.output, HasSubstr("[a] "));
  EXPECT_THAT(r.output, HasSubstr("mode copy"));
  EXPECT_THAT(r.output, HasSubstr("cadenza: 2 ran"));
  EXPECT_EQ(ws.result("b")["outcome"], "succeeded");
  EXPECT_THAT(ws.read(".cadenza/runs/latest/a/log.txt"), HasSubstr("mode copy"));
  EXPECT_THAT(ws.read(".cadenza/runs/latest/a/metrics.jsonl"), HasSubstr("\"tag\":\"test/length\""));
  auto spec = nlohmann::json::parse(ws.read(".cadenza/runs/latest/a/spec.json"));
  EXPECT_EQ(spec["params"]["upper"], true);
  EXPECT_EQ(spec["params"]["gain"], 1.0);
  // No staging leftovers next to the outputs.
  for (auto& e : fs::directory_iterator(ws.path() / "build"))
    EXPECT_THAT(e.path().filename().string(), Not(HasSubstr("staging")));
}

TEST(RunE2E, WorkflowPathArgumentAndStageSelection) {
  Workspace ws(worker("a", "data/in.txt", "build/a.txt") + worker("b", "build/a.txt", "build/b.txt") +
               worker("c", "data/in.txt", "build/c.txt"));
  auto r = run_cadenza(ws.path().parent_path().string(),
                       {"run", (ws.path() / "workflow.toml").string(), "--stage", "b"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(ws.exists("build/b.txt"));
  EXPECT_FALSE(ws.exists("build/c.txt"));
  EXPECT_THAT(r.output, HasSubstr("2 stages"));
}

TEST(RunE2E, FailingStageStopsDownstreamAndLeavesNoOutput) {
  Workspace ws(worker("a", "data/in.txt", "build/a.txt", "mode = \"partial_then_throw\"") +
               worker("b", "build/a.txt", "build/b.txt"));
  auto r = ws.cadenza({"run"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("[a] FAILED after"));
  EXPECT_THAT(r.output, HasSubstr("failed after writing"));
  EXPECT_THAT(r.output, HasSubstr("log: "));
  EXPECT_THAT(r.output, HasSubstr("0 ran, 1 failed, 1 not run"));
  EXPECT_FALSE(ws.exists("build/a.txt"));  // the partial write stayed in staging and was removed
  EXPECT_TRUE(fs::is_empty(ws.path() / "build"));
  EXPECT_EQ(ws.result("a")["outcome"], "failed");
}

TEST(RunE2E, AFailedRerunKeepsThePreviousCompleteOutput) {
  Workspace ws(worker("a", "data/in.txt", "build/a.txt"));
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 0);
  ws.write("workflow.toml", "[workflow]\nname = \"e2e\"\n" +
                                worker("a", "data/in.txt", "build/a.txt", "mode = \"partial_then_throw\""));
  EXPECT_EQ(ws.cadenza({"run"}).exit_code, 1);
  EXPECT_EQ(ws.read("build/a.txt"), "hello\n");
}

TEST(RunE2E, ThrowingAndCrashingPluginsFailOnlyTheirStage) {
  Workspace ws(worker("throws", "data/in.txt", "t.txt", "mode = \"throw_std\"") +
               worker("crashes", "data/in.txt", "c.txt", "mode = \"segfault\"") +
               worker("fine", "data/in.txt", "f.txt", "sleep_ms = 300"));
  auto r = ws.cadenza({"run", "-k", "-j", "3"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("threw an unexpected exception: a plain std::runtime_error"));
  EXPECT_THAT(r.output, HasSubstr("exec-stage was killed by signal 11"));
  EXPECT_THAT(r.output, HasSubstr("1 ran, 2 failed"));
  EXPECT_TRUE(ws.exists("f.txt"));
}

TEST(RunE2E, MissingOutputIsAFailure) {
  Workspace ws(worker("a", "data/in.txt", "a.txt", "mode = \"no_output\""));
  auto r = ws.cadenza({"run"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("ended without error but did not write its out 'out' (a.txt)"));
}

TEST(RunE2E, JobsFlagControlsOverlap) {
  const std::string stages = worker("x", "data/in.txt", "x.txt", "sleep_ms = 600") +
                             worker("y", "data/in.txt", "y.txt", "sleep_ms = 600");
  auto overlapped = [&](const std::string& jobs) {
    Workspace ws(stages);
    auto r = ws.cadenza({"run", "-j", jobs});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    auto x = ws.result("x"), y = ws.result("y");
    return x["started_at"].get<double>() < y["finished_at"].get<double>() &&
           y["started_at"].get<double>() < x["finished_at"].get<double>();
  };
  EXPECT_TRUE(overlapped("2"));
  EXPECT_FALSE(overlapped("1"));
}

TEST(RunE2E, CtrlCCancelsRunningStagesCleanly) {
  Workspace ws(worker("slow", "data/in.txt", "build/slow.txt", "mode = \"wait_cancel\"") +
               worker("after", "build/slow.txt", "build/after.txt"));
  test::CliProcess p(ws.str(), {"run"});
  ASSERT_TRUE(p.wait_for_output("mode wait_cancel")) << p.output();
  p.signal(SIGINT);
  auto r = p.wait();
  EXPECT_EQ(r.exit_code, 130) << r.output;
  EXPECT_THAT(r.output, HasSubstr("interrupted; cancelling running stages"));
  EXPECT_THAT(r.output, HasSubstr("[slow] cancelled after"));
  EXPECT_EQ(ws.result("slow")["outcome"], "cancelled");
  EXPECT_FALSE(ws.exists("build/slow.txt"));
  EXPECT_FALSE(ws.exists("build/after.txt"));
}

TEST(RunE2E, BadParamIsReportedBeforeAnythingRuns) {
  Workspace ws(worker("a", "data/in.txt", "a.txt") + worker("b", "a.txt", "b.txt", "gian = 2.0"));
  auto r = ws.cadenza({"run"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("workflow.toml:14:19: stage 'b': unknown param 'gian' for plugin "
                                  "stage_test_worker"));
  EXPECT_FALSE(ws.exists("a.txt"));
  EXPECT_FALSE(ws.exists(".cadenza/runs"));
}

TEST(RunE2E, WrongTypeIsReportedWithPosition) {
  Workspace ws(worker("a", "data/in.txt", "a.txt", "sleep_ms = \"long\""));
  auto r = ws.cadenza({"run"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("workflow.toml:8:23: stage 'a' param 'sleep_ms' must be an integer"));
}

TEST(RunE2E, CycleMissingDepAndDuplicateOutsAreErrors) {
  {
    Workspace ws(worker("a", "b.txt", "a.txt") + worker("b", "a.txt", "b.txt"));
    auto r = ws.cadenza({"run"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.output, HasSubstr("the stages form a cycle: a -> b -> a"));
  }
  {
    Workspace ws(worker("a", "data/missing.txt", "a.txt"));
    EXPECT_THAT(ws.cadenza({"run"}).output,
                HasSubstr("stage 'a' depends on 'data/missing.txt', which no stage produces"));
  }
  {
    Workspace ws(worker("a", "data/in.txt", "same.txt") + worker("b", "data/in.txt", "same.txt"));
    EXPECT_THAT(ws.cadenza({"run"}).output, HasSubstr("stage 'b' writes 'same.txt', which overlaps output"));
  }
}

TEST(RunE2E, UnknownPluginListsSearchedDirectories) {
  Workspace ws("[stages.a]\nplugin = \"nope\"\nouts = { o = \"o\" }\n");
  auto r = ws.cadenza({"run"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("workflow.toml:5:10: plugin 'stage_nope' not found: no cadenza-stage_nope.so in"));
  EXPECT_THAT(r.output, HasSubstr(test::test_plugin_dir()));
}

TEST(RunE2E, PluginWithWrongAbiIsRefusedWithVersions) {
  Workspace ws("[stages.a]\nplugin = \"bad_abi\"\nouts = { o = \"o\" }\n");
  auto r = ws.cadenza({"run"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("built for Cadenza SDK ABI version 999, but this engine needs version 3"));
}

TEST(RunE2E, StageThatIsNotAStageKind) {
  Workspace ws("[stages.a]\nplugin = \"backend_local\"\nouts = { o = \"o\" }\n");
  EXPECT_THAT(ws.cadenza({"run"}).output, HasSubstr("is a backend plugin, but a stage plugin is needed here"));
}

TEST(RunE2E, ExecStageRejectsABadSpec) {
  test::TempDir dir;
  dir.write("spec.json", R"({"spec_version": 3, "run_id": 5})");
  auto r = run_cadenza(dir.str(), {"exec-stage", "spec.json"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("spec.json: invalid job spec: field 'run_id'"));
  dir.write("v9.json", R"({"spec_version": 9})");
  EXPECT_THAT(run_cadenza(dir.str(), {"exec-stage", "v9.json"}).output,
              HasSubstr("job spec version 9 is not supported"));
}

TEST(CliE2E, DagTextAndDot) {
  Workspace ws(worker("a", "data/in.txt", "a.txt") + worker("b", "a.txt", "b.txt"));
  auto text = ws.cadenza({"dag"});
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_EQ(text.output, "a  [stage_test_worker]\nb  [stage_test_worker]  <- a\n");
  auto dot = ws.cadenza({"dag", "--dot"});
  EXPECT_THAT(dot.output, HasSubstr("digraph \"e2e\" {"));
  EXPECT_THAT(dot.output, HasSubstr("\"a\" -> \"b\" [label=\"a.txt\"];"));
}

TEST(CliE2E, PluginsListsKindNameVersionAbiAndPath) {
  test::TempDir dir;
  auto r = run_cadenza(dir.str(), {"plugins"});
  EXPECT_THAT(r.output, HasSubstr("backend  backend_local"));
  EXPECT_THAT(r.output, HasSubstr("stage    stage_test_worker        0.1.0      3"));
  EXPECT_THAT(r.output, HasSubstr("warning: " + test::test_plugin_dir() + "/cadenza-stage_bad_abi.so"));
  EXPECT_EQ(r.exit_code, 1);  // the broken test libraries are reported
  auto info = run_cadenza(dir.str(), {"plugins", "info", "test_worker"});
  EXPECT_EQ(info.exit_code, 0) << info.output;
  EXPECT_THAT(info.output, HasSubstr("mode (string, default \"copy\") one of: copy throw"));
  EXPECT_THAT(info.output, HasSubstr("sleep_ms (integer, default 0) in [0.0, 600000.0]"));
}

TEST(CliE2E, HelpAndUsageErrors) {
  test::TempDir dir;
  auto help = run_cadenza(dir.str(), {"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.output, HasSubstr("usage: cadenza <command>"));
  auto run_help = run_cadenza(dir.str(), {"run", "--help"});
  EXPECT_THAT(run_help.output, HasSubstr("-j, --jobs N"));
  auto bad = run_cadenza(dir.str(), {"run", "--jobz", "2"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.output, HasSubstr("cadenza run: unknown option '--jobz'"));
  auto j0 = run_cadenza(dir.str(), {"run", "-j", "0"});
  EXPECT_THAT(j0.output, HasSubstr("-j must be an integer >= 1 (got '0')"));
  auto missing = run_cadenza(dir.str(), {"run"});
  EXPECT_THAT(missing.output, HasSubstr("workflow.toml: no workflow file here"));
  auto unknown = run_cadenza(dir.str(), {"frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.output, HasSubstr("unknown command 'frobnicate'"));
}

}  // namespace
}  // namespace cadenza

namespace cadenza {
namespace {

// A stage printing megabytes does not flood the terminal; its log keeps it all.
TEST(RunE2E, ALoudStageIsCappedOnTheTerminalNotInItsLog) {
  Workspace ws("[stages.loud]\nplugin = \"stage_shell\"\nouts = { o = \"out/o\" }\n"
               "params = { cmd = \"head -c 3000000 /dev/zero | tr '\\\\\\\\0' x | fold -w 99; echo done > {out:o}\" }\n");
  auto r = ws.cadenza({"run"});
  ASSERT_EQ(r.exit_code, 0) << r.output.substr(0, 2000);
  EXPECT_THAT(r.output, HasSubstr("[loud] (more than 1 MB of output: the rest is only in"));
  EXPECT_LT(r.output.size(), 1200000u);
  EXPECT_GT(ws.read(".cadenza/runs/latest/loud/log.txt").size(), 3000000u);
}

// Staging files that killed runs left next to an out go at the stage's next run.
TEST(RunE2E, StagingLeftByKilledRunsIsRemovedWhenTheStageRunsAgain) {
  Workspace ws(worker("a", "data/in.txt", "out/a"));
  ws.write("out/.a.cadenza-staging-20261201-101010-dead", "half of an output");
  ws.write("out/.a.cadenza-staging-20261201-101010-dead.old/x", "an older output set aside");
  ws.write("out/.other-file", "not ours");
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 0);
  EXPECT_FALSE(ws.exists("out/.a.cadenza-staging-20261201-101010-dead"));
  EXPECT_FALSE(ws.exists("out/.a.cadenza-staging-20261201-101010-dead.old"));
  EXPECT_TRUE(ws.exists("out/.other-file"));
  EXPECT_EQ(ws.read("out/a"), "hello\n");
}

}  // namespace
}  // namespace cadenza
