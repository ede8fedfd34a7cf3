#include "nam_file.h"

#include <cmath>
#include <fstream>
#include <stdexcept>

namespace cadenza::nam {

size_t lstm_weight_count(int layers, int input, int hidden) {
  size_t n = 0;
  for (int l = 0; l < layers; ++l) {
    const size_t in = l == 0 ? input : hidden;
    n += 4 * hidden * (in + hidden) + 4 * hidden + 2 * hidden;
  }
  return n + hidden + 1;
}

void write_lstm(const std::string& path, const LstmFile& f) {
  if (f.weights.size() != lstm_weight_count(f.num_layers, f.input_size, f.hidden_size))
    throw std::runtime_error(path + ": internal error: weight count does not match the LSTM's shape");
  const nlohmann::json j = {
      {"version", "0.5.4"},
      {"architecture", "LSTM"},
      {"config", {{"num_layers", f.num_layers}, {"input_size", f.input_size}, {"hidden_size", f.hidden_size}}},
      {"sample_rate", f.sample_rate},
      {"metadata", f.metadata},
      {"weights", f.weights}};
  std::ofstream out(path);
  out << j.dump() << "\n";
  out.close();
  if (!out) throw std::runtime_error(path + ": cannot write");
}

LstmFile read_lstm(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path + ": not JSON (" + e.what() + ")");
  }
  LstmFile f;
  try {
    if (j.at("architecture").get<std::string>() != "LSTM")
      throw std::runtime_error("architecture is '" + j["architecture"].get<std::string>() + "', not 'LSTM'");
    const auto& c = j.at("config");
    f.num_layers = c.at("num_layers").get<int>();
    f.input_size = c.at("input_size").get<int>();
    f.hidden_size = c.at("hidden_size").get<int>();
    f.sample_rate = j.value("sample_rate", 48000);  // NAM's default for files without one
    f.metadata = j.value("metadata", nlohmann::json::object());
    f.weights = j.at("weights").get<std::vector<float>>();
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path + ": " + e.what());
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
  if (f.num_layers < 1 || f.input_size < 1 || f.hidden_size < 1)
    throw std::runtime_error(path + ": config: num_layers, input_size and hidden_size must be positive");
  const size_t want = lstm_weight_count(f.num_layers, f.input_size, f.hidden_size);
  if (f.weights.size() != want)
    throw std::runtime_error(path + ": weights: " + std::to_string(f.weights.size()) + " values, the config needs " +
                             std::to_string(want));
  return f;
}

LstmRunner::LstmRunner(const LstmFile& f) : hidden_(f.hidden_size) {
  auto it = f.weights.begin();
  const int h = hidden_;
  for (int l = 0; l < f.num_layers; ++l) {
    Layer layer;
    layer.in = l == 0 ? f.input_size : h;
    const int cols = layer.in + h;
    layer.w.assign(it, it + 4 * h * cols);
    it += 4 * h * cols;
    layer.b.assign(it, it + 4 * h);
    it += 4 * h;
    layer.xh.assign(cols, 0.0f);
    std::copy(it, it + h, layer.xh.begin() + layer.in);  // h0
    it += h;
    layer.c.assign(it, it + h);  // c0
    it += h;
    layer.gates.assign(4 * h, 0.0f);
    layers_.push_back(std::move(layer));
  }
  head_w_.assign(it, it + h);
  it += h;
  head_b_ = *it;
}

namespace {
float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
}  // namespace

float LstmRunner::process(float x) {
  const int h = hidden_;
  const float* input = &x;
  for (Layer& layer : layers_) {
    const int cols = layer.in + h;
    std::copy(input, input + layer.in, layer.xh.begin());
    for (int r = 0; r < 4 * h; ++r) {
      const float* row = &layer.w[static_cast<size_t>(r) * cols];
      float sum = layer.b[r];
      for (int k = 0; k < cols; ++k) sum += row[k] * layer.xh[k];
      layer.gates[r] = sum;
    }
    for (int i = 0; i < h; ++i) {
      const float in_gate = sigmoid(layer.gates[i]), forget = sigmoid(layer.gates[h + i]);
      const float cell = std::tanh(layer.gates[2 * h + i]), out_gate = sigmoid(layer.gates[3 * h + i]);
      layer.c[i] = forget * layer.c[i] + in_gate * cell;
      layer.xh[layer.in + i] = out_gate * std::tanh(layer.c[i]);
    }
    input = &layer.xh[layer.in];
  }
  float y = head_b_;
  for (int i = 0; i < h; ++i) y += head_w_[i] * input[i];
  return y;
}

std::vector<float> LstmRunner::process(const std::vector<float>& input) {
  std::vector<float> out(input.size());
  for (size_t i = 0; i < input.size(); ++i) out[i] = process(input[i]);
  return out;
}

}  // namespace cadenza::nam
