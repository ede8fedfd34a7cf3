// End-to-end: experiments and sweeps on one shared cache (`cadenza exp`).
// Executions are counted with the test worker's trace file, not log lines.
#include <gmock/gmock.h>

#include <filesystem>

#include "subprocess.h"
#include "workspace.h"

namespace cadenza {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

// prep (shared by every variant) -> train (swept) -> report.
std::string pipeline(const std::string& trace) {
  const std::string t = "trace = \"" + trace + "\"";
  return "[experiments]\nmetrics = [\"train:test/length\"]\n\n" +
         worker("prep", "data/in.txt", "out/prep", t + ", sleep_ms = 300") +
         worker("train", "out/prep", "out/model", t + ", epochs = 2") +
         worker("report", "out/model", "out/report", t);
}

// TensorBoard's HPARAMS tab for a logdir, as its HParams plugin builds it.
nlohmann::json hparams_tab(const std::string& logdir) {
  const ProcessResult r = run_process(
      {"/usr/bin/python3", std::string(CADENZA_TEST_SOURCE_DIR) + "/tensorboard/read_events.py", "--hparams", logdir});
  EXPECT_TRUE(r.ok()) << r.err;
  return nlohmann::json::parse(r.out.empty() ? "{}" : r.out);
}

int count(const std::string& trace, const std::string& stage) {
  std::ifstream in(trace);
  int n = 0;
  for (std::string line; std::getline(in, line);) n += line == stage;
  return n;
}

nlohmann::json show(Workspace& ws, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args{"exp", "show", "--json"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = ws.cadenza(args);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return nlohmann::json::parse(r.output);
}

const std::vector<std::string> kGrid{"--grid", "train.suffix=x,yy", "--grid", "train.gain=1,2.5"};

std::vector<std::string> sweep(int parallel) {
  std::vector<std::string> args{"exp", "run", "-j", std::to_string(parallel)};
  args.insert(args.end(), kGrid.begin(), kGrid.end());
  return args;
}

// The 2x2 sweep: prep once, train and report once per variant, 4 rows.
TEST(ExperimentsE2E, ASweepRunsSharedStagesOnceAndEachVariantOnce) {
  test::TempDir shared;
  const std::string trace = shared.str() + "/trace.txt";
  Workspace ws(pipeline(trace));
  auto r = ws.cadenza(sweep(1));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(count(trace, "prep"), 1);
  EXPECT_EQ(count(trace, "train"), 4);
  // The gain does not change the worker's output: the two models of a
  // suffix are the same bytes, so their reports are one stage run.
  EXPECT_EQ(count(trace, "report"), 2);
  const auto rows = show(ws);
  ASSERT_EQ(rows.size(), 4u);
  std::set<std::string> names;
  std::set<double> lengths;
  for (const auto& row : rows) {
    names.insert(row["name"].get<std::string>());
    EXPECT_EQ(row["status"], "succeeded");
    lengths.insert(row["metrics"]["train:test/length"]["last"].get<double>());
  }
  EXPECT_EQ(names, (std::set<std::string>{"suffix-x+gain-1", "suffix-x+gain-2.5", "suffix-yy+gain-1",
                                          "suffix-yy+gain-2.5"}));
  EXPECT_EQ(lengths.size(), 2u);  // the suffix changes the output's length, the gain does not
  // Each experiment's outputs are its own; the workspace's are untouched.
  EXPECT_THAT(ws.read(".cadenza/exps/suffix-yy+gain-2.5/ws/out/model"), HasSubstr("yy"));
  EXPECT_FALSE(ws.exists("out/model"));
  // Rerunning the sweep executes nothing.
  auto again = ws.cadenza(sweep(1));
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(count(trace, "prep") + count(trace, "train") + count(trace, "report"), 7);
  // status --exp judges one experiment the way status judges the workspace.
  EXPECT_EQ(ws.cadenza({"status", "--exp", "suffix-yy+gain-1"}).output,
            "prep    up to date\ntrain   up to date\nreport  up to date\n");
  ws.write("data/in.txt", "changed\n");
  EXPECT_THAT(ws.cadenza({"status", "--exp", "suffix-yy+gain-1"}).output, HasSubstr("dep data/in.txt changed"));
  EXPECT_THAT(ws.cadenza({"status", "--exp", "nope"}).output, HasSubstr("no experiment 'nope'"));
}

// Variants side by side on one cache give what one at a time gives.
TEST(ExperimentsE2E, FourAtOnceMatchOneAtATime) {
  test::TempDir shared;
  Workspace serial(pipeline(shared.str() + "/serial.txt"));
  Workspace parallel(pipeline(shared.str() + "/parallel.txt"));
  ASSERT_EQ(serial.cadenza(sweep(1)).exit_code, 0);
  auto r = parallel.cadenza(sweep(4));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("[suffix-yy+gain-2.5] "));  // each line says whose it is
  EXPECT_EQ(count(shared.str() + "/parallel.txt", "prep"), 1);  // four started it; one ran it
  EXPECT_EQ(count(shared.str() + "/parallel.txt", "train"), 4);
  for (const auto& name : {"suffix-x+gain-1", "suffix-yy+gain-2.5"})
    EXPECT_EQ(parallel.read(std::string(".cadenza/exps/") + name + "/ws/out/report"),
              serial.read(std::string(".cadenza/exps/") + name + "/ws/out/report"));
  auto a = show(serial), b = show(parallel);
  ASSERT_EQ(a.size(), 4u);
  ASSERT_EQ(b.size(), 4u);
  std::map<std::string, nlohmann::json> by_name;
  for (const auto& row : a) by_name[row["name"]] = row["metrics"]["train:test/length"]["last"];
  for (const auto& row : b) EXPECT_EQ(row["metrics"]["train:test/length"]["last"], by_name[row["name"]]);
}

TEST(ExperimentsE2E, OverridesAreCheckedBeforeAnythingRuns) {
  Workspace ws(pipeline("trace.txt") + "[params]\nscale = 2\n");
  auto r = ws.cadenza({"exp", "run", "--set", "train.nope=1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("--set train.nope=1: stage 'train': unknown param 'nope'"));
  r = ws.cadenza({"exp", "run", "--set", "trian.gain=1"});
  EXPECT_THAT(r.output, HasSubstr("--set trian.gain=1: no stage 'trian'"));
  r = ws.cadenza({"exp", "run", "--set", "train.gain=loud"});
  EXPECT_THAT(r.output, HasSubstr("param 'gain' must be a float"));
  r = ws.cadenza({"exp", "run", "--set", "train.sleep_ms=-5"});
  EXPECT_THAT(r.output, HasSubstr("param 'sleep_ms' must lie between"));
  r = ws.cadenza({"exp", "run", "--set", "params.sclae=3"});
  EXPECT_THAT(r.output, HasSubstr("has no shared param 'sclae' in [params] (it has: scale)"));
  r = ws.cadenza({"exp", "run", "--grid", "train.gain=1,2", "--grid", "train.suffix=a,7,oops"});
  EXPECT_THAT(r.output, HasSubstr("param 'suffix' must be a string"));  // the 7, before any variant ran
  r = ws.cadenza({"exp", "run", "--set", "gain=1"});
  EXPECT_THAT(r.output, HasSubstr("expected <stage>.<param>=<value>"));
  r = ws.cadenza({"exp", "run", "--grid", "train.epochs=range(5,1)"});
  EXPECT_THAT(r.output, HasSubstr("range() gives no values"));
  EXPECT_FALSE(ws.exists("trace.txt"));
  EXPECT_FALSE(ws.exists(".cadenza/exps/index.jsonl"));
}

TEST(ExperimentsE2E, RangesSweepFilesAndSharedParams) {
  test::TempDir shared;
  const std::string trace = shared.str() + "/trace.txt";
  Workspace ws(pipeline(trace) + "[params]\nsuffix = \"s\"\n");
  ws.write("sweep.toml", "[set]\n\"report.upper\" = true\n[grid]\n\"train.epochs\" = \"range(1,4,2)\"\n"
                         "[[variant]]\n\"train.suffix\" = \"a\"\n[[variant]]\n\"train.suffix\" = \"bb\"\n");
  auto r = ws.cadenza({"exp", "run", "--sweep", "sweep.toml", "--name", "s1"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto rows = show(ws);
  ASSERT_EQ(rows.size(), 4u);  // epochs 1, 3 x suffix a, bb
  std::set<std::string> names;
  for (const auto& row : rows) names.insert(row["name"].get<std::string>());
  EXPECT_TRUE(names.count("s1-upper-true+epochs-3+suffix-bb")) << r.output;
  EXPECT_EQ(count(trace, "prep"), 1);
  EXPECT_EQ(count(trace, "train"), 4);
  EXPECT_EQ(count(trace, "report"), 2);  // one per distinct model (epochs do not change it)
  ws.write("bad.toml", "[grid]\n\"train.epochs\" = 3\n");
  EXPECT_THAT(ws.cadenza({"exp", "run", "--sweep", "bad.toml"}).output,
              HasSubstr("bad.toml:2: grid.train.epochs must be a list of values or a \"range(...)\" string"));
}

TEST(ExperimentsE2E, ShowFiltersSortsAndWritesCsv) {
  test::TempDir shared;
  Workspace ws(pipeline(shared.str() + "/trace.txt"));
  ASSERT_EQ(ws.cadenza(sweep(2)).exit_code, 0);
  auto rows = show(ws, {"--where", "train:test/length < 8 && train.gain == 2.5"});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["name"], "suffix-x+gain-2.5");
  rows = show(ws, {"--sort-by", "-train.gain"});
  EXPECT_EQ(rows[0]["params"]["train.gain"], 2.5);
  auto table = ws.cadenza({"exp", "show"});
  EXPECT_THAT(table.output, HasSubstr("name"));
  EXPECT_THAT(table.output, HasSubstr("train:test/length"));
  EXPECT_THAT(table.output, HasSubstr("*"));  // the best value of the metric column
  auto csv = ws.cadenza({"exp", "show", "--csv"});
  EXPECT_THAT(csv.output, HasSubstr("name,status,duration_s,train.gain,train.suffix,train:test/length\n"));
  EXPECT_THAT(csv.output, HasSubstr("\nsuffix-x+gain-1,succeeded,"));
  EXPECT_THAT(ws.cadenza({"exp", "show", "--sort-by", "nope"}).output, HasSubstr("--sort-by: no column 'nope'"));
  EXPECT_THAT(ws.cadenza({"exp", "show", "--where", "gain"}).output, HasSubstr("'gain' is not a comparison"));
}

TEST(ExperimentsE2E, DiffSaysWhyEachStageDiffers) {
  test::TempDir shared;
  Workspace ws(pipeline(shared.str() + "/trace.txt"));
  ASSERT_EQ(ws.cadenza(sweep(1)).exit_code, 0);
  auto r = ws.cadenza({"exp", "diff", "suffix-x+gain-1", "suffix-yy+gain-1"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("train.suffix"));
  EXPECT_THAT(r.output, HasSubstr("prep"));
  EXPECT_THAT(r.output, HasSubstr("identical: one cache entry"));
  EXPECT_THAT(r.output, HasSubstr("differs: param suffix x vs yy"));
  EXPECT_THAT(r.output, HasSubstr("differs: input out/model differs"));  // report: same params, new input
  EXPECT_THAT(ws.cadenza({"exp", "diff", "suffix-x+gain-1", "nope"}).output, HasSubstr("no experiment 'nope'"));
}

// apply: the workflow gets the experiment's params (comments kept) and the
// workspace its outputs from the cache, so status says up to date.
TEST(ExperimentsE2E, ApplyThenStatusIsUpToDate) {
  test::TempDir shared;
  const std::string trace = shared.str() + "/trace.txt";
  Workspace ws("# my pipeline\n" + pipeline(trace));
  ASSERT_EQ(ws.cadenza(sweep(1)).exit_code, 0);
  auto r = ws.cadenza({"exp", "apply", "suffix-yy+gain-2.5"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(ws.read("workflow.toml"), HasSubstr("# my pipeline"));
  EXPECT_THAT(ws.read("workflow.toml"), HasSubstr("epochs = 2, suffix = \"yy\", gain = 2.5 }"));
  EXPECT_EQ(ws.cadenza({"status"}).output, "prep    up to date\ntrain   up to date\nreport  up to date\n");
  EXPECT_EQ(ws.read("out/report"), ws.read(".cadenza/exps/suffix-yy+gain-2.5/ws/out/report"));
  const int before = count(trace, "train");
  EXPECT_THAT(ws.cadenza({"run"}).output, HasSubstr("0 ran"));
  EXPECT_EQ(count(trace, "train"), before);
}

// push/pull carry experiment records with their objects: a colleague's
// workspace (another cache) sees the experiments and can adopt one offline.
TEST(ExperimentsE2E, PushAndPullCarryExperimentRecordsWithTheirObjects) {
  test::TempDir shared, remote;
  const std::string trace = shared.str() + "/trace.txt";
  Workspace mine(pipeline(trace)), theirs(pipeline(trace));
  ASSERT_EQ(mine.cadenza(sweep(1)).exit_code, 0);
  auto push = mine.cadenza({"push", "--remote", remote.str()});
  ASSERT_EQ(push.exit_code, 0) << push.output;
  EXPECT_THAT(push.output, HasSubstr("4 experiment records"));
  EXPECT_TRUE(remote.exists("exps/e2e/suffix-yy+gain-2.5/experiment.json"));
  auto pull = theirs.cadenza({"pull", "--remote", remote.str()});
  ASSERT_EQ(pull.exit_code, 0) << pull.output;
  EXPECT_THAT(pull.output, HasSubstr("4 experiment records"));
  const auto rows = show(theirs);
  ASSERT_EQ(rows.size(), 4u);
  const auto mine_rows = show(mine);
  for (size_t k = 0; k < rows.size(); ++k) EXPECT_EQ(rows[k]["metrics"], mine_rows[k]["metrics"]) << k;
  // Every object came along: adopting one runs nothing.
  const int executions = count(trace, "train");
  auto apply = theirs.cadenza({"exp", "apply", "suffix-yy+gain-2.5"});
  ASSERT_EQ(apply.exit_code, 0) << apply.output;
  EXPECT_EQ(theirs.cadenza({"status"}).output, "prep    up to date\ntrain   up to date\nreport  up to date\n");
  EXPECT_EQ(theirs.read("out/model"), mine.read(".cadenza/exps/suffix-yy+gain-2.5/ws/out/model"));
  EXPECT_EQ(count(trace, "train"), executions);
  // A second pull adds nothing; records of our own are never replaced.
  EXPECT_THAT(theirs.cadenza({"pull", "--remote", remote.str()}).output, HasSubstr("0 experiment records"));
}

// gc keeps what a kept experiment needs and drops what only a removed one did.
TEST(ExperimentsE2E, RemoveThenGcDropsOnlyTheRemovedExperimentsData) {
  test::TempDir shared;
  Workspace ws(pipeline(shared.str() + "/trace.txt"));
  ASSERT_EQ(ws.cadenza({"exp", "run", "--set", "train.suffix=keep"}).exit_code, 0);
  ASSERT_EQ(ws.cadenza({"exp", "run", "--set", "train.suffix=drop"}).exit_code, 0);
  auto r = ws.cadenza({"exp", "remove", "suffix-drop"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(ws.exists(".cadenza/exps/suffix-drop"));
  auto gc = ws.cadenza({"gc", "--runs", "--grace", "0"});
  ASSERT_EQ(gc.exit_code, 0) << gc.output;
  EXPECT_THAT(gc.output, HasSubstr("2 run-cache entries removed"));  // drop's train and report
  const auto rows = show(ws);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["name"], "suffix-keep");
  // Rerunning the kept experiment restores nothing and runs nothing.
  auto again = ws.cadenza({"exp", "run", "--set", "train.suffix=keep"});
  EXPECT_THAT(again.output, HasSubstr("0 ran, 3 up to date"));
  // The removed one reruns its own stages only: prep is still cached.
  auto back = ws.cadenza({"exp", "run", "--set", "train.suffix=drop"});
  EXPECT_THAT(back.output, HasSubstr("2 ran, 1 restored from cache"));
}

// The sweep in TensorBoard: one HPARAMS row per experiment with the params
// it really used, its real status, and exactly the chosen metric columns,
// including those of stages restored from the cache (half the reports).
TEST(ExperimentsE2E, TheSweepsHparamsTabShowsOneTrueRowPerExperiment) {
  test::TempDir shared;
  std::string workflow = pipeline(shared.str() + "/trace.txt");
  workflow.replace(workflow.find("[\"train:test/length\"]"), 21, "[\"train:test/length\", \"report:test/length\"]");
  Workspace ws(workflow, "sinks = [\"tensorboard\"]\n");
  auto r = ws.cadenza(sweep(2));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto tab = hparams_tab(ws.str() + "/logs/tensorboard");
  ASSERT_EQ(tab["rows"].size(), 4u) << tab.dump();
  EXPECT_EQ(tab["columns"]["metrics"], nlohmann::json::parse(R"([["train", "test/length"], ["report", "test/length"]])"));
  EXPECT_EQ(tab["columns"]["hparams"]["train.gain"], "float64");
  EXPECT_EQ(tab["columns"]["hparams"]["train.suffix"], "string");
  for (const auto& [name, row] : tab["rows"].items()) {
    EXPECT_EQ(row["sessions_started"], 1) << name;
    EXPECT_EQ(row["status"], "success") << name;
    const std::string suffix = row["hparams"]["train.suffix"];
    const double gain = row["hparams"]["train.gain"];
    EXPECT_EQ(name, "suffix-" + suffix + "+gain-" + (gain == 1 ? "1" : "2.5"));
    const double length = 6 + suffix.size();  // "hello\n" + the suffix
    EXPECT_EQ(row["metrics"]["train:test/length"], length) << name;
    EXPECT_EQ(row["metrics"]["report:test/length"], length) << name << ": a restored report counts too";
  }
  // Scalars of the two stages are in their own run directories.
  const std::string dir = ws.str() + "/logs/tensorboard/suffix-x+gain-1/";
  EXPECT_TRUE(fs::exists(dir + "train")) << dir;
  EXPECT_TRUE(fs::exists(dir + "report"));
}

// A stop rule ends a flawed training after the named epoch, on whichever
// node it runs: the stage is cancelled with the rule as the reason, what
// needs it does not run, and the experiment is recorded as stopped.
TEST(ExperimentsE2E, AStopRuleEndsATrainingAfterTheNamedEpoch) {
  test::TempDir shared;
  const std::string trace = shared.str() + "/trace.txt";
  const std::string t = "trace = \"" + trace + "\"";
  Workspace ws(worker("prep", "data/in.txt", "out/prep", t) +
               "[stages.train]\nplugin = \"test_worker\"\ndeps = { in = \"out/prep\" }\n"
               "outs = { out = \"out/model\" }\nparams = { epochs = 50 }\n"
               "stop_when = \"train/loss < 0.3 && epoch >= 2\"\n\n" +
               worker("report", "out/model", "out/report", t));
  auto r = ws.cadenza({"exp", "run", "--set", "train.suffix=z"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("stopped by rule `train/loss < 0.3 && epoch >= 2` at step 3: train/loss = 0.25"));
  EXPECT_THAT(r.output, HasSubstr("experiment suffix-z stopped"));
  const std::string dir = ".cadenza/exps/suffix-z/runs/latest/train/";
  EXPECT_EQ(lines_of(ws, dir + "metrics.jsonl") / 3, 4);  // epochs 0-3 (scalar, text, audio each), not 50
  EXPECT_EQ(nlohmann::json::parse(ws.read(dir + "result.json"))["outcome"], "cancelled");
  EXPECT_EQ(count(trace, "report"), 0);
  const auto rows = show(ws);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["status"], "stopped");
  const auto record = nlohmann::json::parse(ws.read(".cadenza/exps/suffix-z/experiment.json"));
  EXPECT_THAT(record["stages"]["train"]["error"].get<std::string>(), HasSubstr("stopped by rule"));
  EXPECT_FALSE(ws.exists("logs/tensorboard"));  // no sink configured: no files
  // A rule that does not parse is refused before anything runs, with its line.
  ws.write("workflow.toml", "[workflow]\nname = \"e2e\"\n" +
                                worker("a", "data/in.txt", "out/a", "") + "stop_when = \"loss >\"\n");
  EXPECT_THAT(ws.cadenza({"run"}).output, HasSubstr("workflow.toml:9:13: [stages.a].stop_when: 'loss >' is not a comparison"));
}

}  // namespace
}  // namespace cadenza

namespace cadenza {
namespace {

// Columns were padded by bytes: a value with "é" (two bytes, one column)
// pushed every later column of its row one place left.
TEST(ExperimentsE2E, TheTableLinesUpWithNonAsciiValues) {
  Workspace ws(worker("train", "data/in.txt", "out/model", "suffix = \"x\", gain = 1.0"));
  ASSERT_EQ(ws.cadenza({"exp", "run", "--set", "train.suffix=\"é\"", "--name", "accent"}).exit_code, 0);
  ASSERT_EQ(ws.cadenza({"exp", "run", "--set", "train.suffix=e", "--name", "plain"}).exit_code, 0);
  auto r = ws.cadenza({"exp", "show"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Where "succeeded" starts, in characters, on each experiment's line.
  std::vector<size_t> columns;
  std::istringstream in(r.output);
  for (std::string line; std::getline(in, line);) {
    const size_t at = line.find("succeeded");
    if (at == std::string::npos) continue;
    size_t chars = 0;
    for (size_t i = 0; i < at; ++i) chars += (static_cast<unsigned char>(line[i]) & 0xC0) != 0x80;
    columns.push_back(chars);
  }
  ASSERT_EQ(columns.size(), 2u) << r.output;
  EXPECT_EQ(columns[0], columns[1]) << r.output;
}

}  // namespace
}  // namespace cadenza

namespace cadenza {
namespace {

// A stage that hit its time limit ended timed_out in the run's events and
// TensorBoard, but its experiment's record said "failed" (read off the exit
// code): the record now says how the stage ended.
TEST(ExperimentsE2E, AnExperimentWhoseStageTimedOutSaysSo) {
  Workspace ws(worker("train", "data/in.txt", "out/model", "sleep_ms = 4000") + "resources = { time = \"1s\" }\n");
  auto r = ws.cadenza({"exp", "run", "--name", "slow"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("TIMED OUT"));
  const auto rows = show(ws);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["status"], "timed_out") << rows.dump();
  auto table = ws.cadenza({"exp", "show", "--where", "status == timed_out"});
  EXPECT_THAT(table.output, HasSubstr("slow"));
}

}  // namespace
}  // namespace cadenza
