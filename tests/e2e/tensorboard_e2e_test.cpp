// End-to-end: sink_tensorboard writes event files that an independent
// strict reader (tests/tensorboard/read_events.py) fully decodes.
#include <gmock/gmock.h>

#include "subprocess.h"
#include "workspace.h"

namespace cadenza {
namespace {

using ::testing::HasSubstr;

const std::string kReader = std::string(CADENZA_TEST_SOURCE_DIR) + "/tensorboard/read_events.py";

ProcessResult read_logdir(const std::string& logdir) {
  return run_process({"/usr/bin/python3", kReader, logdir});
}

nlohmann::json decoded(const std::string& logdir) {
  const ProcessResult r = read_logdir(logdir);
  EXPECT_TRUE(r.ok()) << r.err;
  return nlohmann::json::parse(r.out.empty() ? "{}" : r.out);
}

// The HPARAMS tab as TensorBoard's HParams plugin builds it (read_events.py).
nlohmann::json hparams_tab(const std::string& logdir) {
  const ProcessResult r = run_process({"/usr/bin/python3", kReader, "--hparams", logdir});
  EXPECT_TRUE(r.ok()) << r.err;
  return nlohmann::json::parse(r.out.empty() ? "{}" : r.out);
}

std::string header(const std::string& experiment, const std::string& logdir = "") {
  std::string h = "experiment = \"" + experiment + "\"\nsinks = [\"tensorboard\"]\n";
  if (!logdir.empty()) h += "\n[sinks.tensorboard]\nlogdir = \"" + logdir + "\"\n";
  return h;
}

TEST(TensorBoardE2E, ExampleRunIsFullyDecodable) {
  Workspace ws(worker("train", "data/in.txt", "out/model", "epochs = 3, gain = 0.5"), header("exp-a"));
  auto r = ws.cadenza({"run"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto runs = decoded(ws.str() + "/logs/tensorboard");
  ASSERT_TRUE(runs.contains("exp-a/train")) << runs.dump();
  const auto& run = runs["exp-a/train"];  // the stage run's own directory
  EXPECT_EQ(run["scalars"]["train/loss"], nlohmann::json::parse("[[0, 1.0], [1, 0.5], [2, 0.3333333432674408]]"));
  EXPECT_EQ(run["text"]["notes"][2][1], "epoch 2");
  ASSERT_EQ(run["audio"]["prediction"].size(), 3u);
  EXPECT_EQ(run["audio"]["prediction"][1][1]["sample_rate"], 8000);
  EXPECT_EQ(run["audio"]["prediction"][1][1]["frames"], 800);
  EXPECT_TRUE(run["session_start_info"].empty());
  // The experiment's one session, in the directory above its stages.
  const auto& session = runs["exp-a"];
  ASSERT_EQ(session["session_start_info"].size(), 1u);
  EXPECT_EQ(session["session_start_info"][0]["hparams"]["train.epochs"], 3.0);
  EXPECT_EQ(session["session_start_info"][0]["hparams"]["train.gain"], 0.5);
  EXPECT_EQ(session["session_start_info"][0]["hparams"]["train.mode"], "copy");
  EXPECT_EQ(session["session_start_info"][0]["group_name"], "exp-a");
  ASSERT_EQ(session["session_end_info"].size(), 1u);
  EXPECT_EQ(session["session_end_info"][0]["status"], 1);  // SUCCESS
  // The engine's own JSON-lines record is kept too.
  EXPECT_THAT(ws.read(".cadenza/runs/latest/train/metrics.jsonl"), HasSubstr("\"tag\":\"train/loss\""));
}

TEST(TensorBoardE2E, AFailedStageEndsItsSessionWithFailure) {
  Workspace ws(worker("train", "data/in.txt", "out/model", "epochs = 1, mode = \"partial_then_throw\""),
               header("exp-f"));
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 1);
  auto runs = decoded(ws.str() + "/logs/tensorboard");
  EXPECT_EQ(runs["exp-f"]["session_end_info"][0]["status"], 2);  // FAILURE
}

// TensorBoard keeps the first session end of a run directory: a rerun that
// succeeds must not leave the earlier failure in place.
TEST(TensorBoardE2E, ARerunThatSucceedsEndsTheSessionWithSuccess) {
  Workspace ws(worker("train", "data/in.txt", "out/model", "epochs = 2, mode = \"partial_then_throw\""),
               header("exp-r"));
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 1);
  ws.write("workflow.toml", "[workflow]\nname = \"e2e\"\n" + header("exp-r") + "\n" + worker("train", "data/in.txt", "out/model", "epochs = 2"));
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 0);
  auto runs = decoded(ws.str() + "/logs/tensorboard");
  ASSERT_EQ(runs["exp-r"]["session_end_info"].size(), 1u);
  EXPECT_EQ(runs["exp-r"]["session_end_info"][0]["status"], 1);
  EXPECT_EQ(runs["exp-r"]["session_start_info"][0]["hparams"]["train.mode"], "copy");
  // The stage's directory shows the run that made its output, not both.
  EXPECT_EQ(runs["exp-r/train"]["scalars"]["train/loss"].size(), 2u);
}

// Two stages reporting the same tag no longer interleave their steps.
TEST(TensorBoardE2E, EachStageRunHasItsOwnRunDirectory) {
  Workspace ws(worker("train", "data/in.txt", "out/model", "epochs = 3") +
                   worker("train_b", "data/in.txt", "out/model_b", "epochs = 2"),
               header("exp-s"));
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 0);
  auto runs = decoded(ws.str() + "/logs/tensorboard");
  EXPECT_EQ(runs["exp-s/train"]["scalars"]["train/loss"].size(), 3u);
  EXPECT_EQ(runs["exp-s/train_b"]["scalars"]["train/loss"].size(), 2u);
  const auto tab = hparams_tab(ws.str() + "/logs/tensorboard");
  ASSERT_EQ(tab["rows"].size(), 1u) << tab.dump();
  EXPECT_NEAR(tab["rows"]["exp-s"]["metrics"]["train:train/loss"].get<double>(), 1.0 / 3, 1e-6);
  EXPECT_NEAR(tab["rows"]["exp-s"]["metrics"]["train_b:train/loss"].get<double>(), 0.5, 1e-6);
}

TEST(TensorBoardE2E, ACorruptedByteIsDetected) {
  Workspace ws(worker("train", "data/in.txt", "out/model", "epochs = 2"), header("exp-c"));
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 0);
  std::string file;
  for (auto& e : fs::directory_iterator(ws.path() / "logs/tensorboard/exp-c/train")) file = e.path().string();
  ASSERT_FALSE(file.empty());
  ASSERT_TRUE(read_logdir(ws.str() + "/logs/tensorboard").ok());
  std::string bytes = read_file(file);
  for (size_t at : {size_t{5}, size_t{10}, bytes.size() / 2, bytes.size() - 2}) {
    std::string damaged = bytes;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x20);
    write_file_atomic(file, damaged);
    const ProcessResult r = read_logdir(ws.str() + "/logs/tensorboard");
    EXPECT_FALSE(r.ok()) << "damage at byte " << at << " went unnoticed";
    EXPECT_THAT(r.err, HasSubstr("CRC")) << "damage at byte " << at;
  }
}

TEST(TensorBoardE2E, ConcurrentExperimentsGetTheirOwnRunDirectories) {
  test::TempDir logs;
  Workspace a(worker("train", "data/in.txt", "out/model", "epochs = 2, sleep_ms = 300"), header("lr-0.01", logs.str()));
  Workspace b(worker("train", "data/in.txt", "out/model", "epochs = 2, sleep_ms = 300, gain = 2.0"),
              header("lr-0.1", logs.str()));
  test::CliProcess pa(a.str(), {"run"}), pb(b.str(), {"run"});
  ASSERT_EQ(pa.wait().exit_code, 0);
  ASSERT_EQ(pb.wait().exit_code, 0);
  auto runs = decoded(logs.str());
  ASSERT_EQ(runs.size(), 5u) << runs.dump();  // 2 sessions, 2 stage runs, the experiment summary
  EXPECT_EQ(runs["lr-0.01"]["session_start_info"][0]["hparams"]["train.gain"], 1.0);
  EXPECT_EQ(runs["lr-0.1"]["session_start_info"][0]["hparams"]["train.gain"], 2.0);
  for (const std::string name : {"lr-0.01", "lr-0.1"}) {
    EXPECT_EQ(runs[name + "/train"]["scalars"]["train/loss"].size(), 2u) << name;
    EXPECT_EQ(runs[name]["session_end_info"][0]["status"], 1) << name;
  }
  EXPECT_EQ(runs["."]["experiment"].size(), 1u);
  EXPECT_EQ(hparams_tab(logs.str())["rows"].size(), 2u);
}

TEST(TensorBoardE2E, BadSinkConfigDisablesTheSinkNotTheStage) {
  Workspace ws(worker("train", "data/in.txt", "out/model", "epochs = 1"),
               "sinks = [\"tensorboard\"]\n\n[sinks.tensorboard]\nlogdri = \"x\"\n");
  auto r = ws.cadenza({"run"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("metric sink sink_tensorboard is disabled for this run: [sinks.tensorboard]: unknown key 'logdri'"));
}

}  // namespace
}  // namespace cadenza
