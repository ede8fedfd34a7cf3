// stage_export's pieces: the windowed model, the .nam file (layout, errors)
// and the round trip model -> .nam -> our own NAM LSTM forward pass.
#include <gmock/gmock.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "amp_model.h"
#include "dataset.h"
#include "exporter.h"
#include "ml_test_util.h"
#include "nam_file.h"
#include "test_util.h"
#include "trainer.h"

namespace cadenza {
namespace {

using ::testing::HasSubstr;
using train::test_util::quiet;
using train::test_util::toy;
using train::test_util::write_dataset;

TEST(WindowedConvLstm, ShapesAndStreamingPredictionMatchTheWindows) {
  torch::manual_seed(0);
  amp::WindowedConvLstm model(150, 16, 12, 12, 36, 1);
  // Keras 'same' padding: 150 -> 13 -> 2 steps, as in the template.
  EXPECT_EQ(model->pad1_left + model->pad1_right, 6);
  EXPECT_EQ(model->pad2_left + model->pad2_right, 11);
  EXPECT_EQ(model->forward(torch::randn({5, 150})).sizes(), (std::vector<int64_t>{5}));
  // predict() streams chunks of a view; it must equal the model applied to
  // explicitly built windows (zeros before the signal's start).
  const auto signal = torch::randn({10000});
  const auto streamed = model->predict(signal, torch::kCPU);
  ASSERT_EQ(streamed.size(0), 10000);
  torch::NoGradGuard no_grad;
  for (int64_t i : {0, 1, 149, 150, 8191, 8192, 9999}) {
    auto window = torch::zeros({150});
    const int64_t from = std::max<int64_t>(0, i - 149);
    window.narrow(0, 150 - (i - from + 1), i - from + 1).copy_(signal.narrow(0, from, i - from + 1));
    EXPECT_NEAR(model->forward(window.unsqueeze(0)).item<float>(), streamed[i].item<float>(), 1e-5) << i;
  }
}

TEST(TrainWindowedConvLstm, LearnsAndIsDeterministicForASeed) {
  test::TempDir dir;
  train::TrainConfig c;
  c.model.family = "windowed_conv_lstm";
  c.model.hidden_size = 8;
  c.model.window = 32;
  c.model.conv_filters = 4;
  c.model.conv_kernel = 4;
  c.model.conv_stride = 4;
  c.batch_size = 256;
  c.learning_rate = 0.01;
  c.epochs = 3;
  c.threads = 1;
  c.device = "cpu";
  c.audio_every = 0;
  const auto train = toy(8000), val = toy(2000);
  const auto a = train::train_model(c, train, val, dir.str() + "/s1", dir.str() + "/a.pt", quiet());
  const auto b = train::train_model(c, train, val, dir.str() + "/s2", dir.str() + "/b.pt", quiet());
  EXPECT_EQ(a.best_val_esr, b.best_val_esr);
  EXPECT_EQ(train::test_util::predict(c.model, dir.str() + "/a.pt", val.input), train::test_util::predict(c.model, dir.str() + "/b.pt", val.input));
  EXPECT_LT(a.best_val_esr, train::test_util::identity_esr(val));
}

TEST(TrainModel, AnExhaustedTimeBudgetStopsAfterTheFirstSteps) {
  test::TempDir dir;
  train::TrainConfig c;
  c.model.hidden_size = 4;
  c.batch_size = 4;
  c.segment_length = 400;
  c.tbptt_length = 100;
  c.warmup = 50;
  c.epochs = 1000;
  c.max_minutes = 1e-9;
  c.threads = 1;
  c.audio_every = 0;
  const auto r = train::train_model(c, toy(8000), toy(2000), dir.str() + "/s", dir.str() + "/m.pt", quiet());
  EXPECT_TRUE(r.time_limit_reached);
  EXPECT_EQ(r.epochs_run, 1);  // validated and saved what it had
  EXPECT_TRUE(std::filesystem::exists(dir.str() + "/m.pt"));
}

// Trains a small model on `dataset` and writes a model directory as
// stage_train_lstm does.
void train_model_dir(const std::string& dataset, const std::string& model_dir, amp::ModelSpec spec) {
  const auto d = amp::Dataset::open(dataset);
  const auto tr = d.read("train"), va = d.read("val");
  train::TrainConfig c;
  c.model = spec;
  c.model.sample_rate = d.sample_rate;
  c.model.input_gain = d.input_gain;
  c.model.target_gain = d.target_gain;
  c.batch_size = 4;
  c.segment_length = 400;
  c.tbptt_length = 100;
  c.warmup = 50;
  c.epochs = 2;
  c.threads = 1;
  c.audio_every = 0;
  std::filesystem::create_directories(model_dir);
  train::train_model(c, {d.sample_rate, tr.input, tr.target}, {d.sample_rate, va.input, va.target}, model_dir + "/scratch",
                     model_dir + "/model.pt", quiet());
  std::ofstream(model_dir + "/config.json") << c.model.to_json().dump();
}

TEST(Export, TheNamFileReproducesThePredictionInRawUnits) {
  test::TempDir dir;
  write_dataset(dir.str() + "/data", toy(20000), 1.7, 0.6);
  amp::ModelSpec spec;
  spec.hidden_size = 6;
  spec.layers = 2;  // the layout of every layer after the first, too
  train_model_dir(dir.str() + "/data", dir.str() + "/model", spec);
  exporter::ExportOptions o;
  o.nam_metadata = {{"name", "toy"}};
  const auto r = exporter::export_model(dir.str() + "/model", dir.str() + "/data", dir.str() + "/out", o, [](auto&&) {});
  ASSERT_TRUE(r.nam_written);
  // The exporter checked itself; check again from the files alone.
  const auto nam = nam::read_lstm(dir.str() + "/out/model.nam");
  EXPECT_EQ(nam.num_layers, 2);
  EXPECT_EQ(nam.hidden_size, 6);
  EXPECT_EQ(nam.sample_rate, 8000);
  EXPECT_EQ(nam.metadata["name"], "toy");
  // NAM's trainer reports the validation split's ESR in metadata.training.
  ASSERT_TRUE(nam.metadata["training"]["validation_esr"].is_number());
  EXPECT_FALSE(nam.metadata.contains("validation_esr"));  // it used to hold the test ESR
  EXPECT_EQ(nam.metadata["training"]["validation_esr"], r.validation_esr);
  EXPECT_NE(r.validation_esr.get<double>(), r.esr);  // another split
  EXPECT_GE(r.validation_esr.get<double>(), 0.0);
  int rate = 0;
  const auto input = amp::read_wav_mono(dir.str() + "/out/test_input.wav", &rate);
  const auto prediction = amp::read_wav_mono(dir.str() + "/out/test_prediction.wav", &rate);
  const auto target = amp::read_wav_mono(dir.str() + "/out/test_target.wav", &rate);
  ASSERT_EQ(input.size(), 4000u);
  // Raw units: the normalisation is undone (the toy data was |x| <= 0.5).
  const auto d = amp::Dataset::open(dir.str() + "/data");
  EXPECT_NEAR(input[100], d.read("test").input[100] / 1.7, 1e-6);
  EXPECT_NEAR(target[100], d.read("test").target[100] / 0.6, 1e-6);
  const auto replay = nam::LstmRunner(nam).process(input);
  for (size_t i = 0; i < input.size(); ++i) ASSERT_NEAR(replay[i], prediction[i], 1e-4) << i;
  // The metrics are those of the prediction that was written.
  const auto metrics = nlohmann::json::parse(read_file(dir.str() + "/out/metrics.json"));
  double err = 0, energy = 0;
  for (size_t i = 0; i < target.size(); ++i) {
    err += std::pow(static_cast<double>(target[i]) - prediction[i], 2);
    energy += std::pow(static_cast<double>(target[i]), 2);
  }
  const double written_esr = metrics["test"]["esr"];
  EXPECT_NEAR(written_esr, err / energy, 1e-6);
  EXPECT_EQ(metrics["nam"]["file"], "model.nam");
}

TEST(Export, ModelsNamCannotRepresentAreRefusedOrSkippedAsAsked) {
  test::TempDir dir;
  write_dataset(dir.str() + "/data", toy(20000), 1.0, 1.0);
  amp::ModelSpec spec;
  spec.hidden_size = 3;
  spec.skip_connection = true;
  train_model_dir(dir.str() + "/data", dir.str() + "/model", spec);
  exporter::ExportOptions o;
  try {
    exporter::export_model(dir.str() + "/model", dir.str() + "/data", dir.str() + "/out", o, [](auto&&) {});
    FAIL() << "a skip-connection model exported to .nam";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("skip_connection = false"));
    EXPECT_THAT(e.what(), HasSubstr("nam = false"));
  }
  o.require_nam = false;
  std::string logged;
  const auto r = exporter::export_model(dir.str() + "/model", dir.str() + "/data", dir.str() + "/out", o,
                                        [&](const std::string& m) { logged += m; });
  EXPECT_FALSE(r.nam_written);
  EXPECT_THAT(logged, HasSubstr("no .nam"));
  EXPECT_FALSE(std::filesystem::exists(dir.str() + "/out/model.nam"));
  EXPECT_TRUE(std::filesystem::exists(dir.str() + "/out/test_prediction.wav"));
  EXPECT_TRUE(std::filesystem::exists(dir.str() + "/out/model.pt"));
}

TEST(Export, ClearErrorsForBadInputs) {
  test::TempDir dir;
  auto fails_with = [&](const std::string& model, const std::string& data, const std::string& expected) {
    try {
      exporter::export_model(model, data, dir.str() + "/out", {}, [](auto&&) {});
      ADD_FAILURE() << "no error; expected " << expected;
    } catch (const std::runtime_error& e) {
      EXPECT_THAT(e.what(), HasSubstr(expected));
    }
  };
  fails_with(dir.str() + "/nothing", dir.str() + "/data", "nothing/config.json: missing");
  dir.write("model/config.json", R"({"family": "sequence_lstm", "hidden_size": 4, "layers": 1, "sample_rate": 8000})");
  fails_with(dir.str() + "/model", dir.str() + "/data", "config.json: missing field 'skip_connection'");
  // A model configuration neither export can represent: named, with the file.
  dir.write("model/config.json", R"({"family": "wavenet", "hidden_size": 4, "layers": 1, "sample_rate": 8000})");
  fails_with(dir.str() + "/model", dir.str() + "/data", "config.json: field 'family': unknown model family 'wavenet'");
  dir.write("model/config.json",
            R"({"family": "sequence_lstm", "hidden_size": 4, "layers": 1, "sample_rate": 8000, "skip_connection": false})");
  dir.write("model/model.pt", "not an archive");
  fails_with(dir.str() + "/model", dir.str() + "/data", "model.pt: not weights of a sequence_lstm");
}

TEST(NamFile, RefusesFilesThatAreNotAnLstmOfTheirOwnShape) {
  test::TempDir dir;
  EXPECT_EQ(nam::lstm_weight_count(1, 1, 2), 4u * 2 * 3 + 4 * 2 + 2 * 2 + 2 + 1);
  auto fails_with = [&](const std::string& text, const std::string& expected) {
    const std::string path = dir.write("m.nam", text);
    try {
      nam::read_lstm(path);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const std::runtime_error& e) {
      EXPECT_THAT(e.what(), HasSubstr(path));
      EXPECT_THAT(e.what(), HasSubstr(expected));
    }
  };
  fails_with("{", "not JSON");
  fails_with(R"({"architecture": "WaveNet", "config": {}, "weights": []})", "not 'LSTM'");
  fails_with(R"({"architecture": "LSTM", "config": {"num_layers": 1, "input_size": 1}, "weights": []})", "hidden_size");
  fails_with(R"({"architecture": "LSTM", "config": {"num_layers": 1, "input_size": 1, "hidden_size": 2}, "weights": [1, 2]})",
             "weights: 2 values, the config needs 39");
}

TEST(NamFile, TheRunnerFollowsNamsGateOrderAndLayout) {
  // hidden 1, input 1: W row r = [w_x, w_h] for gates i, f, g, o.
  nam::LstmFile f;
  f.hidden_size = 1;
  f.sample_rate = 48000;
  f.weights = {0.5f, 0.1f,   // i
               -0.3f, 0.2f,  // f
               0.8f, -0.4f,  // g
               0.6f, 0.3f,   // o
               0.01f, 0.02f, 0.03f, 0.04f,  // b (b_ih + b_hh)
               0.1f, 0.2f,   // h0, c0
               2.0f, -0.5f};  // head w, bias
  auto sig = [](double v) { return 1 / (1 + std::exp(-v)); };
  double h = 0.1, c = 0.2;
  nam::LstmRunner runner(f);
  for (float x : {0.3f, -0.7f, 0.0f}) {
    const double i = sig(0.5 * x + 0.1 * h + 0.01), fg = sig(-0.3 * x + 0.2 * h + 0.02);
    const double g = std::tanh(0.8 * x - 0.4 * h + 0.03), o = sig(0.6 * x + 0.3 * h + 0.04);
    c = fg * c + i * g;
    h = o * std::tanh(c);
    EXPECT_NEAR(runner.process(x), 2.0 * h - 0.5, 1e-6);
  }
}

}  // namespace
}  // namespace cadenza
