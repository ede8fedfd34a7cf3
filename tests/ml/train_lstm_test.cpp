// stage_train_lstm's model, loss and training loop (built with LibTorch only).
#include <gmock/gmock.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "audio_loss.h"
#include "sequence_lstm.h"
#include "ml_test_util.h"
#include "test_util.h"
#include "trainer.h"
#include "training_progress.h"

namespace cadenza::train {
namespace {

using amp::esr;
using amp::esr_dc_loss;
using amp::SequenceLstm;
using test_util::predict;
using test_util::quiet;
using test_util::toy;

TEST(SequenceLstm, ForwardShapesAndCarriedState) {
  torch::manual_seed(0);
  SequenceLstm model(8, 2, true);
  const auto x = torch::randn({3, 50, 1});
  auto [y, state] = model->forward(x, {});
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{3, 50, 1}));
  EXPECT_EQ(std::get<0>(state).sizes(), (std::vector<int64_t>{2, 3, 8}));
  // Running in two halves with the state carried equals one run.
  auto [first, mid] = model->forward(x.narrow(1, 0, 20), {});
  auto [second, end] = model->forward(x.narrow(1, 20, 30), mid);
  EXPECT_TRUE(torch::allclose(torch::cat({first, second}, 1), y, 1e-5, 1e-6));
}

TEST(SequenceLstm, EsrAndPreEmphasisAgainstHandComputedValues) {
  // target t = [1, 2, 3], prediction p = [1, 1, 1], emphasis a = 0.5:
  // t' = [2 - 0.5, 3 - 1] = [1.5, 2], p' = [0.5, 0.5]
  // ESR = ((1.5-0.5)^2 + (2-0.5)^2) / (1.5^2 + 2^2) = 3.25 / 6.25 = 0.52
  // DC  = mean(t - p)^2 / mean(t^2) = 1^2 / (14/3) = 3/14
  const auto t = torch::tensor({1.0f, 2.0f, 3.0f}).view({1, 3, 1});
  const auto p = torch::tensor({1.0f, 1.0f, 1.0f}).view({1, 3, 1});
  EXPECT_NEAR(esr_dc_loss(p, t, 0.5).item<double>(), 0.52 + 3.0 / 14.0, 1e-6);
  // Plain ESR: (0 + 1 + 4) / 14
  EXPECT_NEAR(esr(p, t), 5.0 / 14.0, 1e-6);
  EXPECT_NEAR(esr(t, t), 0.0, 1e-12);
}

TrainConfig tiny() {
  TrainConfig c;
  c.model.hidden_size = 4;
  c.model.skip_connection = true;
  c.epochs = 2;
  c.batch_size = 4;
  c.segment_length = 400;
  c.tbptt_length = 100;
  c.warmup = 50;
  c.threads = 1;
  c.device = "cpu";
  c.audio_every = 0;
  return c;
}

std::string bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(TrainSequenceLstm, LearnsAndIsDeterministicForASeed) {
  test::TempDir dir;
  const Audio train = toy(8000), val = toy(2000);
  const auto a = train_model(tiny(), train, val, dir.str() + "/s1", dir.str() + "/a.pt", quiet());
  const auto b = train_model(tiny(), train, val, dir.str() + "/s2", dir.str() + "/b.pt", quiet());
  EXPECT_EQ(a.best_val_esr, b.best_val_esr);
  const auto pa = predict(tiny().model, dir.str() + "/a.pt", val.input), pb = predict(tiny().model, dir.str() + "/b.pt", val.input);
  EXPECT_EQ(pa, pb);  // bit-identical predictions: identical weights
  // It learned something: better than the identity (the skip connection alone).
  EXPECT_LT(a.best_val_esr, test_util::identity_esr(val));
}

TEST(TrainSequenceLstm, AKilledRunResumesFromItsCheckpoint) {
  test::TempDir dir;
  const Audio train = toy(8000), val = toy(2000);
  TrainConfig c = tiny();
  c.epochs = 3;
  // Uninterrupted reference.
  const auto ref = train_model(c, train, val, dir.str() + "/ref", dir.str() + "/ref.pt", quiet());
  // Cancelled part-way through epoch 2 (after epoch 1's checkpoint), then rerun.
  const auto cut = train_model(c, train, val, dir.str() + "/s", dir.str() + "/m.pt", quiet(nullptr, 6));
  ASSERT_TRUE(cut.cancelled);
  int epochs_seen = 0;
  const auto resumed = train_model(c, train, val, dir.str() + "/s", dir.str() + "/m.pt", quiet(&epochs_seen));
  EXPECT_EQ(resumed.resumed_from_epoch, 1);
  EXPECT_EQ(epochs_seen, 2);  // epochs 2 and 3 only
  EXPECT_EQ(resumed.best_val_esr, ref.best_val_esr);
  EXPECT_EQ(predict(c.model, dir.str() + "/m.pt", val.input), predict(c.model, dir.str() + "/ref.pt", val.input));
  // Another config never resumes this checkpoint.
  c.model.hidden_size = 5;
  EXPECT_EQ(train_model(c, train, val, dir.str() + "/s", dir.str() + "/n.pt", quiet()).resumed_from_epoch, 0);
}

TEST(TrainSequenceLstm, ClearErrors) {
  test::TempDir dir;
  TrainConfig c = tiny();
  c.segment_length = 100000;
  try {
    train_model(c, toy(1000), toy(100), dir.str() + "/s", dir.str() + "/m.pt", quiet());
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("fewer than warmup + segment_length"));
  }
}

}  // namespace
}  // namespace cadenza::train

namespace cadenza::train {
namespace {

// A training whose validation ESR was never finite yet (a diverged first
// epoch) saved "inf" as its best score, which `>>` could not read back: the
// resume silently started over from epoch 0.
TEST(TrainingProgress, ABestScoreNotYetFiniteIsReadBackAndATornFileIsNoProgress) {
  test::TempDir dir;
  const std::string path = dir.str() + "/progress.json";
  TrainingProgress p;
  p.epoch = 3;
  p.lr = 0.004;
  p.seconds = 12.5;
  p.since_best = 3;
  p.fingerprint = "train2 {\"family\": \"x\"}";
  save_progress(path, p);
  TrainingProgress back;
  ASSERT_TRUE(load_progress(path, &back));
  EXPECT_EQ(back.epoch, 3);
  EXPECT_TRUE(std::isinf(back.best_val));
  EXPECT_EQ(back.best_epoch, -1);
  EXPECT_EQ(back.lr, 0.004);
  EXPECT_EQ(back.fingerprint, p.fingerprint);
  p.best_val = 0.0123;
  p.best_epoch = 2;
  save_progress(path, p);
  ASSERT_TRUE(load_progress(path, &back));
  EXPECT_EQ(back.best_val, 0.0123);
  std::ofstream(path) << "{\"epoch\": 4, \"best";
  EXPECT_FALSE(load_progress(path, &back));
  EXPECT_FALSE(load_progress(dir.str() + "/none.json", &back));
}

}  // namespace
}  // namespace cadenza::train
