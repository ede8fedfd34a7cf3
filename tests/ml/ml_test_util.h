// Toy audio and quiet callbacks shared by the LibTorch tests.
#pragma once

#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "amp_model.h"
#include "dataset.h"
#include "trainer.h"

namespace cadenza::train::test_util {

// A slowly swelling sine through tanh: a "pedal" a tiny model can learn.
inline Audio toy(size_t n, int rate = 8000) {
  Audio a;
  a.sample_rate = rate;
  for (size_t i = 0; i < n; ++i) {
    const float x = 0.5f * std::sin(0.05f * static_cast<float>(i)) * std::sin(0.001f * static_cast<float>(i));
    a.input.push_back(x);
    a.target.push_back(std::tanh(3.0f * x));
  }
  return a;
}

// ESR of output = input: what a model must beat to have learned anything.
inline double identity_esr(const Audio& a) {
  double err = 0, energy = 0;
  for (size_t i = 0; i < a.input.size(); ++i) {
    err += std::pow(a.target[i] - a.input[i], 2);
    energy += std::pow(a.target[i], 2);
  }
  return err / energy;
}

// Callbacks that print nothing; counts validated epochs into `epochs_seen`
// and reports a cancel after `cancel_after_batches` batches (-1: never).
inline TrainCallbacks quiet(int* epochs_seen = nullptr, int cancel_after_batches = -1) {
  TrainCallbacks cb;
  cb.log = [](const std::string&) {};
  cb.scalar = [epochs_seen](const std::string& tag, double, int64_t) {
    if (epochs_seen && tag == "val/esr") ++*epochs_seen;
  };
  cb.audio = [](const std::string&, const std::vector<float>&, int, int64_t) {};
  cb.progress = [](double, double) {};
  auto batches = std::make_shared<int>(0);
  cb.cancelled = [batches, cancel_after_batches] { return cancel_after_batches >= 0 && (*batches)++ >= cancel_after_batches; };
  return cb;
}

// Runs a saved model over `input` (normalised units; stateful, chunked).
inline std::vector<float> predict(const amp::ModelSpec& spec, const std::string& model_path,
                                  const std::vector<float>& input) {
  amp::AmpModel model(spec);
  model.load(model_path, torch::kCPU);
  model.module()->eval();
  const auto x = torch::from_blob(const_cast<float*>(input.data()), {static_cast<int64_t>(input.size())}, torch::kFloat32);
  const auto y = model.predict(x, torch::kCPU).contiguous();
  return std::vector<float>(y.data_ptr<float>(), y.data_ptr<float>() + y.numel());
}

// A dataset directory as stage_preprocess writes it, with normalisation
// gains that are not 1, so the export must undo them.
inline void write_dataset(const std::string& dir, const Audio& a, double input_gain, double target_gain) {
  std::filesystem::create_directories(dir);
  const size_t n = a.input.size(), n_train = n * 6 / 10, n_val = n * 2 / 10;
  auto part = [&](const std::vector<float>& v, size_t from, size_t len) {
    return std::vector<float>(v.begin() + static_cast<long>(from), v.begin() + static_cast<long>(from + len));
  };
  const std::pair<const char*, std::pair<size_t, size_t>> splits[] = {
      {"train", {0, n_train}}, {"val", {n_train, n_val}}, {"test", {n_train + n_val, n - n_train - n_val}}};
  for (const auto& [name, range] : splits) {
    amp::write_wav(dir + "/" + name + "_input.wav", part(a.input, range.first, range.second), a.sample_rate);
    amp::write_wav(dir + "/" + name + "_target.wav", part(a.target, range.first, range.second), a.sample_rate);
  }
  std::ofstream(dir + "/dataset.json")
      << nlohmann::json{{"sample_rate", a.sample_rate},
                        {"normalization", {{"mode", "peak"}, {"input_gain", input_gain}, {"target_gain", target_gain}}}}
             .dump();
}

}  // namespace cadenza::train::test_util
