#include "exporter.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "allocator_policy.h"
#include "amp_model.h"
#include "dataset.h"
#include "nam_file.h"
#include "onnx_graph.h"

namespace cadenza::exporter {

namespace {

std::vector<float> scaled(const std::vector<float>& v, double gain) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<float>(v[i] * gain);
  return out;
}

double esr(const std::vector<float>& prediction, const std::vector<float>& target) {
  double err = 0, energy = 0;
  for (size_t i = 0; i < target.size(); ++i) {
    err += std::pow(static_cast<double>(target[i]) - prediction[i], 2);
    energy += static_cast<double>(target[i]) * target[i];
  }
  return err / std::max(energy, 1e-30);
}

// The model's weights as a NAM LSTM that maps raw input to raw output: the
// dataset's normalisation is folded in (input gain into the first layer's
// input weights, 1/target gain into the head), so the file needs no
// pre- or post-processing in the player.
nam::LstmFile to_nam(const amp::AmpModel& model) {
  const auto& spec = model.spec;
  const int64_t h = spec.hidden_size;
  nam::LstmFile f;
  f.num_layers = static_cast<int>(spec.layers);
  f.input_size = 1;
  f.hidden_size = static_cast<int>(h);
  f.sample_rate = spec.sample_rate;
  auto params = model.sequence->lstm->named_parameters();
  auto append = [&f](const torch::Tensor& t) {
    const auto c = t.detach().to(torch::kFloat32).contiguous();
    f.weights.insert(f.weights.end(), c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  };
  for (int64_t l = 0; l < spec.layers; ++l) {
    const std::string s = std::to_string(l);
    torch::Tensor w_ih = params["weight_ih_l" + s];
    if (l == 0) w_ih = w_ih * spec.input_gain;
    append(torch::cat({w_ih, params["weight_hh_l" + s]}, 1));  // [4H, in + H], row-major
    append(params["bias_ih_l" + s] + params["bias_hh_l" + s]);
    append(torch::zeros({2 * h}));  // initial h and c: training starts from zeros
  }
  append(model.sequence->head->weight.view({-1}) / spec.target_gain);
  append(model.sequence->head->bias.view({-1}) / spec.target_gain);
  return f;
}

std::string nam_obstacle(const amp::ModelSpec& spec) {
  if (spec.family != "sequence_lstm")
    return "the " + spec.family + " model has no NAM equivalent (NAM's LSTM runs sample by sample); train with "
           "model = \"sequence_lstm\" to get a .nam";
  if (spec.skip_connection)
    return "the model was trained with skip_connection = true, and NAM's LSTM adds no input to its output; train with "
           "skip_connection = false to get a .nam";
  return "";
}

// The model's prediction of `input_raw` (the recordings' own units) in
// those units: the model sees its own training normalisation.
std::vector<float> predict_raw(amp::AmpModel& model, const std::vector<float>& input_raw) {
  const amp::ModelSpec& spec = model.spec;
  const auto model_in = scaled(input_raw, spec.input_gain);
  const auto x = torch::from_blob(const_cast<float*>(model_in.data()), {static_cast<int64_t>(model_in.size())}, torch::kFloat32);
  const auto y = model.predict(x, torch::kCPU).contiguous();
  return scaled(std::vector<float>(y.data_ptr<float>(), y.data_ptr<float>() + y.numel()), 1.0 / spec.target_gain);
}

// The ESR on the validation split, where NAM's trainer reports it
// (metadata.training.validation_esr); null without a validation split.
nlohmann::json validation_esr(amp::AmpModel& model, const amp::Dataset& dataset) {
  const amp::Split val = dataset.read("val");
  if (val.input.empty()) return nullptr;
  return esr(predict_raw(model, scaled(val.input, 1.0 / dataset.input_gain)), scaled(val.target, 1.0 / dataset.target_gain));
}

// 20 log10 of the RMS of `output`: NAM's metadata.loudness (its trainer
// runs the model over its own bundled loudness_input.wav). Null when silent.
nlohmann::json loudness_db(const std::vector<float>& output) {
  double sq = 0;
  for (float v : output) sq += static_cast<double>(v) * v;
  const double rms = output.empty() ? 0 : std::sqrt(sq / static_cast<double>(output.size()));
  if (!(rms > 0)) return nullptr;
  return 20.0 * std::log10(rms);
}

// Writes model.nam, then checks it: our own NAM LSTM forward pass, from the
// file, must reproduce the LibTorch prediction.
void write_nam(amp::AmpModel& model, const ExportOptions& options, const std::string& out_dir,
               const std::vector<float>& input_raw, double tolerance, ExportReport& r) {
  if (options.loudness_input.empty()) {
    r.loudness = loudness_db(r.prediction);
    r.loudness_input = "the test split's input";
  } else {
    int rate = 0;
    r.loudness = loudness_db(predict_raw(model, amp::read_wav_mono(options.loudness_input, &rate)));
    r.loudness_input = options.loudness_input;
  }
  nam::LstmFile f = to_nam(model);
  f.metadata = options.nam_metadata;
  f.metadata["loudness"] = r.loudness;
  // Where NAM's trainer puts it, and what it is there: the validation
  // split's ESR (the test split's is in metrics.json).
  f.metadata["training"]["validation_esr"] = r.validation_esr;
  const std::string path = out_dir + "/model.nam";
  nam::write_lstm(path, f);
  const auto replay = nam::LstmRunner(nam::read_lstm(path)).process(input_raw);
  for (int64_t i = 0; i < r.test_samples; ++i)
    r.nam_max_deviation = std::max(r.nam_max_deviation, std::abs(static_cast<double>(replay[i]) - r.prediction[i]));
  if (!(r.nam_max_deviation <= tolerance))
    throw std::runtime_error(path + ": the .nam does not reproduce the model (max deviation " +
                             std::to_string(r.nam_max_deviation) + "); this is a bug in the exporter");
  r.nam_written = true;
}

void prepare_out_dir(const std::string& out_dir) {
  std::error_code ec;
  if (std::filesystem::exists(out_dir, ec) && !std::filesystem::is_directory(out_dir, ec))
    throw std::runtime_error(out_dir + ": exists and is not a directory; the export stage's out must name a directory");
  std::filesystem::create_directories(out_dir, ec);
  if (ec) throw std::runtime_error(out_dir + ": cannot create the export directory (" + ec.message() + ")");
}

nlohmann::json metrics_json(const amp::ModelSpec& spec, const ExportReport& r) {
  nlohmann::json nam = {{"file", nullptr}, {"reason", r.nam_note}};
  if (r.nam_written)
    nam = {{"file", "model.nam"}, {"max_deviation_from_libtorch", r.nam_max_deviation},
           {"loudness_db", r.loudness}, {"loudness_input", r.loudness_input}};
  nlohmann::json onnx = {{"file", nullptr}, {"reason", "onnx = false"}};
  if (r.onnx_written)
    onnx = {{"file", "model.onnx"}, {"opset", onnx_graph::kOpsetVersion}, {"checker", "passed"},
            {"max_deviation_from_libtorch", r.onnx.max_deviation}, {"check_seconds", r.onnx.check_seconds},
            {"streamed_block_samples", r.onnx.block_samples > 0 ? nlohmann::json(r.onnx.block_samples) : nullptr}};
  return {{"test",
           {{"esr", r.esr}, {"mse", r.mse}, {"peak_error", r.peak_error}, {"samples", r.test_samples},
            {"seconds", static_cast<double>(r.test_samples) / r.sample_rate}}},
          {"validation", {{"esr", r.validation_esr}}},
          {"baselines", {{"identity_esr", r.identity_esr}, {"linear_esr", r.linear_esr}}},
          {"model", spec.to_json()},
          {"nam", nam},
          {"onnx", onnx},
          {"predict_seconds", r.predict_seconds}};
}

void measure(const amp::Split& test, const std::vector<float>& target_raw, ExportReport& r) {
  double sq = 0;
  for (int64_t i = 0; i < r.test_samples; ++i) {
    const double e = static_cast<double>(r.prediction[i]) - target_raw[i];
    sq += e * e;
    r.peak_error = std::max(r.peak_error, std::abs(e));
  }
  r.mse = sq / static_cast<double>(r.test_samples);
  r.esr = esr(r.prediction, target_raw);
  r.identity_esr = esr(test.input, test.target);
  double xy = 0, xx = 0, yy = 0;
  for (int64_t i = 0; i < r.test_samples; ++i) {
    xy += static_cast<double>(test.input[i]) * test.target[i];
    xx += static_cast<double>(test.input[i]) * test.input[i];
    yy += static_cast<double>(test.target[i]) * test.target[i];
  }
  r.linear_esr = 1.0 - xy * xy / std::max(xx * yy, 1e-30);
}

}  // namespace

ExportReport export_model(const std::string& model_dir, const std::string& dataset_dir, const std::string& out_dir,
                          const ExportOptions& options, const std::function<void(const std::string&)>& log) {
  amp::keep_freed_buffers_for_reuse();
  torch::set_num_threads(options.threads);
  amp::AmpModel model = amp::load_model_dir(model_dir);
  const amp::ModelSpec& spec = model.spec;
  const amp::Dataset dataset = amp::Dataset::open(dataset_dir);
  if (dataset.sample_rate != spec.sample_rate)
    throw std::runtime_error(dataset_dir + ": " + std::to_string(dataset.sample_rate) + " Hz, but the model in " + model_dir +
                             " was trained at " + std::to_string(spec.sample_rate) + " Hz");
  const std::string obstacle = nam_obstacle(spec);
  if (!obstacle.empty() && options.require_nam)
    throw std::runtime_error(obstacle + " (or set nam = false to export without it)");

  const amp::Split test = dataset.read("test");
  if (test.input.empty()) throw std::runtime_error(dataset_dir + ": the test split is empty; give test_ratio > 0 when preprocessing");
  prepare_out_dir(out_dir);
  ExportReport r;
  r.sample_rate = dataset.sample_rate;
  r.test_samples = static_cast<int64_t>(test.input.size());
  // Raw units: the recordings as they were. The model sees its own
  // training normalisation, whatever dataset this is.
  const auto input_raw = scaled(test.input, 1.0 / dataset.input_gain);
  const auto target_raw = scaled(test.target, 1.0 / dataset.target_gain);
  const auto start = std::chrono::steady_clock::now();
  r.prediction = predict_raw(model, input_raw);
  r.predict_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.validation_esr = validation_esr(model, dataset);
  measure(test, target_raw, r);

  amp::write_wav(out_dir + "/test_input.wav", input_raw, r.sample_rate);
  amp::write_wav(out_dir + "/test_target.wav", target_raw, r.sample_rate);
  amp::write_wav(out_dir + "/test_prediction.wav", r.prediction, r.sample_rate);
  model.save(out_dir + "/model.pt");
  std::ofstream(out_dir + "/config.json") << spec.to_json().dump(2) << "\n";

  // Both exports must reproduce the prediction to 0.1% of the target's peak.
  double peak = 1e-9;
  for (float v : target_raw) peak = std::max(peak, std::abs(static_cast<double>(v)));
  if (obstacle.empty()) {
    write_nam(model, options, out_dir, input_raw, 1e-3 * peak, r);
  } else {
    r.nam_note = obstacle;
    log("no .nam: " + obstacle);
  }
  if (options.onnx) {
    r.onnx = export_onnx(model, out_dir + "/model.onnx", options.producer_version, input_raw, r.prediction, 1e-3 * peak);
    r.onnx_written = true;
  }
  std::ofstream(out_dir + "/metrics.json") << metrics_json(spec, r).dump(2) << "\n";
  return r;
}

}  // namespace cadenza::exporter
