// End-to-end: the repository's own example workflow, in a temporary copy.
#include <gmock/gmock.h>

#include <chrono>
#include <thread>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "dataset.h"
#include "nam_file.h"
#include "subprocess.h"
#include "workspace.h"

namespace cadenza {
namespace {

using ::testing::HasSubstr;

TEST(ExampleE2E, TheExampleWorkflowRunsAndLogsToTensorBoard) {
  test::TempDir ws;
  std::string example = read_file(std::string(CADENZA_TEST_SOURCE_DIR) + "/../workflow.toml");
  // A shorter recording and a few short epochs keep the test fast (seconds
  // of training); the rest is as shipped.
  for (auto [from, to] : {std::pair<std::string, std::string>{"duration_s = 30.0", "duration_s = 10.0"},
                          {"epochs = 10,", "epochs = 2,"},
                          {"epochs = 8", "epochs = 3"},
                          {"segment_length = 4410", "segment_length = 2205"},
                          {"batch_size = 16", "batch_size = 4"}}) {
    ASSERT_NE(example.find(from), std::string::npos) << from;
    example.replace(example.find(from), from.size(), to);
  }
  ws.write("workflow.toml", example);
  auto r = test::run_cadenza(ws.str(), {"run"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto dataset = nlohmann::json::parse(ws.read("out/dataset/dataset.json"));
  EXPECT_EQ(dataset["sample_rate"], 44100);
  EXPECT_EQ(dataset["frames"], 10 * 44100);
  // The export stage's test metrics are printed, and written.
  EXPECT_THAT(r.output, HasSubstr("test ESR"));
  EXPECT_THAT(r.output, HasSubstr("model.nam written and verified"));
  // The default family's model beats both baselines on the test split:
  // output = input, and the best single gain.
  auto metrics = nlohmann::json::parse(ws.read("out/export/metrics.json"));
  const double test_esr = metrics["test"]["esr"];
  EXPECT_LT(test_esr, metrics["baselines"]["identity_esr"].get<double>());
  EXPECT_LT(test_esr, metrics["baselines"]["linear_esr"].get<double>());
  EXPECT_FALSE(ws.exists("out/export/model.nam"));  // NAM cannot play the windowed model
  // Both exports carry a model.onnx that reproduces the LibTorch prediction
  // (checked in-stage; ONNX Runtime runs such files in tests/onnx).
  for (const char* stage : {"export", "export_nam"}) {
    const auto onnx = nlohmann::json::parse(ws.read(std::string("out/") + stage + "/metrics.json"))["onnx"];
    EXPECT_TRUE(ws.exists(std::string("out/") + stage + "/model.onnx")) << stage;
    EXPECT_EQ(onnx["file"], "model.onnx") << stage;
    EXPECT_LT(onnx["max_deviation_from_libtorch"].get<double>(), 1e-4) << stage;
  }
  EXPECT_THAT(r.output, HasSubstr("model.onnx written, checked and run"));
  // And in ONNX Runtime itself, where the test command installed it (it
  // does in CI; tests/onnx/onnxruntime_e2e.sh reports it skipped elsewhere).
  const std::string check = std::string(CADENZA_TEST_SOURCE_DIR) + "/../scripts/onnxruntime/check_onnx.js";
  if (std::getenv("CI") || std::filesystem::exists(std::string(CADENZA_TEST_SOURCE_DIR) +
                                                   "/../scripts/onnxruntime/node_modules/onnxruntime-node")) {
    for (const char* stage : {"export", "export_nam"}) {
      const ProcessResult ort = run_process({"node", check, ws.str() + "/out/" + stage, "--block", "64"});
      EXPECT_TRUE(ort.ok()) << stage << ": " << ort.out << ort.err;
      EXPECT_THAT(ort.out, HasSubstr("\"onnxruntime\":\"1.30.0\"")) << stage;
    }
  }
  // The .nam carries NAM's loudness (of its output on the test input here).
  EXPECT_TRUE(nlohmann::json::parse(ws.read("out/export_nam/model.nam"))["metadata"]["loudness"].is_number());
  // Three short epochs of the sequence LSTM on 7 s do not make a good model
  // (its learning is tested in tests/ml), but one that follows the signal.
  const double nam_esr = nlohmann::json::parse(ws.read("out/export_nam/metrics.json"))["test"]["esr"];
  EXPECT_LT(nam_esr, 0.5);
  // The .nam, replayed by our own NAM LSTM forward pass, gives the
  // predicted test audio.
  int rate = 0;
  const auto input = amp::read_wav_mono(ws.str() + "/out/export_nam/test_input.wav", &rate);
  const auto predicted = amp::read_wav_mono(ws.str() + "/out/export_nam/test_prediction.wav", &rate);
  EXPECT_EQ(rate, 44100);
  EXPECT_EQ(input.size(), static_cast<size_t>(2 * 44100));
  const auto replay = nam::LstmRunner(nam::read_lstm(ws.str() + "/out/export_nam/model.nam")).process(input);
  ASSERT_EQ(replay.size(), predicted.size());
  double worst = 0;
  for (size_t i = 0; i < replay.size(); ++i) worst = std::max(worst, static_cast<double>(std::abs(replay[i] - predicted[i])));
  EXPECT_LT(worst, 1e-4);
  const ProcessResult read = run_process({"/usr/bin/python3", std::string(CADENZA_TEST_SOURCE_DIR) + "/tensorboard/read_events.py",
                                          ws.str() + "/logs/tensorboard"});
  ASSERT_TRUE(read.ok()) << read.err;
  auto runs = nlohmann::json::parse(read.out);
  const auto& session = runs["demo"];  // the workspace's one HParams session; each stage its own run
  EXPECT_EQ(runs["demo/synth"]["audio"]["demo/wet"][0][1]["frames"], 2 * 44100);
  EXPECT_EQ(session["session_start_info"][0]["hparams"]["synth.seed"], 7.0);
  // The windowed family's own defaults, resolved by the engine: the lock and
  // the HParams show the values used, not a "0 means default" sentinel.
  EXPECT_EQ(session["session_start_info"][0]["hparams"]["train.hidden_size"], 36.0);
  const auto lock = nlohmann::json::parse(ws.read("workflow.lock"));
  const std::string lock_text = lock.dump();
  EXPECT_THAT(lock_text, HasSubstr("\"hidden_size\":36"));
  EXPECT_THAT(lock_text, HasSubstr("\"learning_rate\":0.01"));
  EXPECT_THAT(lock_text, HasSubstr("\"batch_size\":4096"));
  ASSERT_EQ(session["session_end_info"].size(), 1u);
  EXPECT_EQ(session["session_end_info"][0]["status"], 1);
  // train and train_nam both report val/esr: no longer interleaved in one run.
  EXPECT_EQ(runs["demo/train"]["scalars"]["val/esr"].size(), 2u);
  EXPECT_EQ(runs["demo/train_nam"]["scalars"]["val/esr"].size(), 3u);
  EXPECT_EQ(runs["demo/export"]["scalars"]["test/esr"].size(), 1u);
  EXPECT_EQ(runs["demo/export_nam"]["scalars"]["test/esr"].size(), 1u);
  EXPECT_EQ(runs["demo/train"]["audio"]["val/prediction"].size(), 2u);  // first and last epoch
  EXPECT_EQ(runs["demo/train_nam"]["audio"]["val/prediction"].size(), 2u);
  auto summary = nlohmann::json::parse(ws.read("out/model/summary.json"));
  EXPECT_EQ(summary["epochs_run"], 2);
  EXPECT_EQ(nlohmann::json::parse(ws.read("out/model_nam/summary.json"))["epochs_run"], 3);
  EXPECT_TRUE(ws.exists("out/model/model.pt"));
  EXPECT_THAT(test::run_cadenza(ws.str(), {"run"}).output, HasSubstr("0 ran, 6 up to date"));
}

TEST(ExampleE2E, TheDemoDataIsDeterministic) {
  const std::string stage =
      "[stages.synth]\nplugin = \"synth_pedal\"\nouts = { dry = \"dry.wav\", wet = \"wet.wav\" }\n"
      "params = { seed = 3, duration_s = 2.0 }\n";
  Workspace a(stage), b(stage);
  ASSERT_EQ(a.cadenza({"run"}).exit_code, 0);
  // In another second: libsndfile's PEAK chunk held the time of writing, so
  // two runs a second apart wrote different files (seen on a loaded machine).
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  ASSERT_EQ(b.cadenza({"run"}).exit_code, 0);
  EXPECT_EQ(a.read("dry.wav"), b.read("dry.wav"));
  EXPECT_EQ(a.read("wet.wav"), b.read("wet.wav"));
  EXPECT_NE(a.read("dry.wav"), a.read("wet.wav"));
  EXPECT_GT(a.read("dry.wav").size(), 2u * 44100 * 4);
}

}  // namespace
}  // namespace cadenza
