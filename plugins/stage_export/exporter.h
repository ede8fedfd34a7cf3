// Evaluation on the test split and export for real-time use, behind a
// header free of LibTorch (only exporter.cpp pays its compile time).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "onnx_export.h"

namespace cadenza::exporter {

struct ExportOptions {
  bool require_nam = true;  // refuse models NAM cannot represent, instead of skipping the .nam
  bool onnx = true;         // write and verify model.onnx
  int threads = 1;
  nlohmann::json nam_metadata = nlohmann::json::object();
  // The signal whose output loudness goes into the .nam (metadata.loudness);
  // empty: the test split's input.
  std::string loudness_input;
  std::string producer_version;  // the plugin's, recorded in model.onnx
};

struct ExportReport {
  int sample_rate = 0;
  int64_t test_samples = 0;
  // The trained model on the test split, in the recordings' own units
  // (normalisation undone): what a listener hears.
  double esr = 0, mse = 0, peak_error = 0;
  nlohmann::json validation_esr;  // the same ESR on the validation split; null without one
  // Baselines on the same split: output = normalised input (what a skip
  // connection starts from), and the best single gain (ESR is gain-free).
  double identity_esr = 0, linear_esr = 0;
  bool nam_written = false;
  std::string nam_note;           // why not, when not written
  double nam_max_deviation = 0;   // |.nam runner - LibTorch| over the test split
  // NAM's metadata.loudness: 20 log10 of the output's RMS on the loudness
  // input (raw units, dBFS); null without a .nam or for a silent output.
  nlohmann::json loudness;
  std::string loudness_input;     // what it was measured on
  bool onnx_written = false;
  OnnxReport onnx;
  double predict_seconds = 0;
  std::vector<float> prediction;  // the test prediction, for the metrics sink
};

// Reads <model_dir>/{config.json,model.pt} and the dataset's test split;
// writes into `out_dir`: test_input.wav, test_target.wav,
// test_prediction.wav (float WAVs, normalisation undone), model.pt and
// config.json (the LibTorch archive and what rebuilds it), model.nam (when
// the model is a NAM LSTM), model.onnx (unless options.onnx is false),
// metrics.json. Both exports are read back and run over the test input
// before this returns. Throws std::runtime_error with a
// message naming the file or the setting at fault.
ExportReport export_model(const std::string& model_dir, const std::string& dataset_dir, const std::string& out_dir,
                          const ExportOptions& options, const std::function<void(const std::string&)>& log);

}  // namespace cadenza::exporter
