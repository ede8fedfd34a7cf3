// End-to-end: stage_preprocess through the real binary.
#include <gmock/gmock.h>

#include <cmath>

#include "metrics_recorder.h"
#include "workspace.h"

namespace cadenza {
namespace {

using ::testing::HasSubstr;

void write_tone(Workspace& ws, const std::string& rel, float amplitude, size_t frames) {
  std::vector<float> s(frames);
  for (size_t i = 0; i < frames; ++i) s[i] = amplitude * std::sin(0.03f * static_cast<float>(i));
  fs::create_directories((ws.path() / rel).parent_path());
  write_float_wav((ws.path() / rel).string(), s.data(), frames, 1, 16000);
}

const std::string kStage =
    "[stages.preprocess]\nplugin = \"preprocess\"\ndeps = { input = \"data/dry.wav\", target = \"data/wet.wav\" }\n"
    "outs = { dataset = \"out/dataset\" }\nparams = { normalize = \"joint_peak\" }\n";

TEST(PreprocessE2E, WritesSplitsAndManifest) {
  Workspace ws(kStage);
  write_tone(ws, "data/dry.wav", 0.3f, 16000);
  write_tone(ws, "data/wet.wav", 0.6f, 16000);
  auto r = ws.cadenza({"run"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("dataset: 16000 Hz, train 11200, val 1600, test 3200 frames"));
  auto m = nlohmann::json::parse(ws.read("out/dataset/dataset.json"));
  EXPECT_EQ(m["normalization"]["mode"], "joint_peak");
  EXPECT_NEAR(m["normalization"]["input_gain"].get<double>(), 1 / 0.6, 1e-3);
  for (const char* f : {"train_input.wav", "val_target.wav", "test_input.wav"}) EXPECT_TRUE(ws.exists("out/dataset/" + std::string(f)));
  EXPECT_THAT(ws.cadenza({"run"}).output, HasSubstr("0 ran, 1 up to date"));
}

TEST(PreprocessE2E, ASilentTargetFailsWithAClearMessageAndNoOutput) {
  Workspace ws(kStage);
  write_tone(ws, "data/dry.wav", 0.3f, 16000);
  write_tone(ws, "data/wet.wav", 0.0f, 16000);
  auto r = ws.cadenza({"run"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("data/wet.wav: the recording is silent"));
  EXPECT_FALSE(ws.exists("out/dataset"));
}

}  // namespace
}  // namespace cadenza
