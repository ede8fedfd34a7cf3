#include "onnx_export.h"

#include <torch/torch.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "amp_model.h"
#include "onnx_graph.h"
#include "onnx_runner.h"

namespace cadenza::exporter {

namespace {

std::vector<float> floats(const torch::Tensor& t, double gain = 1.0) {
  const auto c = (t.detach().to(torch::kFloat64) * gain).to(torch::kFloat32).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

// Layer after layer, in PyTorch's layout; `input_gain` folds the input's
// normalisation into the first layer (the sequence model reads samples).
std::vector<onnx_graph::LstmLayer> lstm_layers(const torch::nn::LSTM& lstm, double input_gain) {
  auto params = lstm->named_parameters();
  std::vector<onnx_graph::LstmLayer> layers;
  for (int64_t l = 0; l < lstm->options.num_layers(); ++l) {
    const std::string s = std::to_string(l);
    onnx_graph::LstmLayer layer;
    layer.hidden_size = lstm->options.hidden_size();
    layer.input_size = l == 0 ? lstm->options.input_size() : layer.hidden_size;
    layer.w_ih = floats(params["weight_ih_l" + s], l == 0 ? input_gain : 1.0);
    layer.w_hh = floats(params["weight_hh_l" + s]);
    layer.b_ih = floats(params["bias_ih_l" + s]);
    layer.b_hh = floats(params["bias_hh_l" + s]);
    layers.push_back(std::move(layer));
  }
  return layers;
}

// The head maps the normalised target; dividing by target_gain gives raw output.
onnx_graph::Head head(const torch::nn::Linear& linear, double target_gain) {
  return {floats(linear->weight.view({-1}), 1.0 / target_gain), floats(linear->bias, 1.0 / target_gain).at(0)};
}

onnx_graph::Conv1d conv(const torch::nn::Conv1d& c, int64_t pad_left, int64_t pad_right, double gain) {
  onnx_graph::Conv1d out;
  out.in_channels = c->options.in_channels();
  out.out_channels = c->options.out_channels();
  out.kernel = c->options.kernel_size()->at(0);
  out.stride = c->options.stride()->at(0);
  out.pad_left = pad_left;
  out.pad_right = pad_right;
  out.w = floats(c->weight, gain);  // a convolution is linear in its input: the gain folds into the weights
  out.b = floats(c->bias);
  return out;
}

std::string build(const amp::AmpModel& model, const onnx_graph::Description& d) {
  const amp::ModelSpec& spec = model.spec;
  if (model.sequence) {
    onnx_graph::SequenceModel m;
    m.layers = lstm_layers(model.sequence->lstm, spec.input_gain);
    m.head = head(model.sequence->head, spec.target_gain);
    // y_raw = (head + x_raw * input_gain) / target_gain with the skip connection.
    if (spec.skip_connection) m.skip_gain = static_cast<float>(spec.input_gain / spec.target_gain);
    return onnx_graph::build_sequence(m, d);
  }
  auto& w = model.windowed;
  onnx_graph::WindowedModel m;
  m.window = w->window;
  m.conv1 = conv(w->conv1, w->pad1_left, w->pad1_right, spec.input_gain);
  m.conv2 = conv(w->conv2, w->pad2_left, w->pad2_right, 1.0);
  m.layers = lstm_layers(w->lstm, 1.0);
  m.head = head(w->head, spec.target_gain);
  return onnx_graph::build_windowed(m, d);
}

// The sequence model streamed as a plugin would: blocks with the state carried.
std::vector<float> run_streaming(const onnx_runner::Runner& runner, const amp::ModelSpec& spec,
                                 const std::vector<float>& input, int64_t block) {
  const std::vector<int64_t> state_dims = {spec.layers, 1, spec.hidden_size};
  onnx_runner::Tensor h{state_dims, std::vector<float>(spec.layers * spec.hidden_size, 0.0f)}, c = h;
  std::vector<float> out;
  out.reserve(input.size());
  for (size_t s = 0; s < input.size(); s += block) {
    const size_t len = std::min<size_t>(block, input.size() - s);
    auto r = runner.run({{"input", {{static_cast<int64_t>(len)}, {input.begin() + s, input.begin() + s + len}}},
                         {"h_in", h}, {"c_in", c}});
    out.insert(out.end(), r["output"].data.begin(), r["output"].data.end());
    h = r["h_out"];
    c = r["c_out"];
  }
  return out;
}

// The windowed model over every sample's window (silence before the start).
std::vector<float> run_windows(const onnx_runner::Runner& runner, int64_t window, const std::vector<float>& input) {
  std::vector<float> padded(window - 1, 0.0f);
  padded.insert(padded.end(), input.begin(), input.end());
  std::vector<float> out;
  out.reserve(input.size());
  const int64_t n = static_cast<int64_t>(input.size()), batch = 4096;
  for (int64_t s = 0; s < n; s += batch) {
    const int64_t len = std::min(batch, n - s);
    onnx_runner::Tensor windows{{len, window}, {}};
    windows.data.reserve(len * window);
    for (int64_t i = 0; i < len; ++i)
      windows.data.insert(windows.data.end(), padded.begin() + s + i, padded.begin() + s + i + window);
    const auto r = runner.run({{"window", windows}});
    out.insert(out.end(), r.at("output").data.begin(), r.at("output").data.end());
  }
  return out;
}

}  // namespace

OnnxReport export_onnx(const amp::AmpModel& model, const std::string& path, const std::string& producer_version,
                       const std::vector<float>& input_raw, const std::vector<float>& prediction, double tolerance) {
  onnx_graph::Description d;
  d.sample_rate = model.spec.sample_rate;
  d.name = model.spec.family;
  d.producer_version = producer_version;
  const std::string bytes = build(model, d);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out.flush()) throw std::runtime_error(path + ": cannot write the ONNX model there");
  }
  // Verify what is on disk, not what is in memory.
  const auto start = std::chrono::steady_clock::now();
  std::ifstream in(path, std::ios::binary);
  std::stringstream written;
  written << in.rdbuf();
  onnx_graph::check(written.str(), path);
  const onnx_runner::Runner runner(written.str(), path);
  OnnxReport r;
  r.file = path;
  std::vector<float> replay;
  if (model.sequence) {
    r.block_samples = 2048;  // a typical audio host block, times a few
    replay = run_streaming(runner, model.spec, input_raw, r.block_samples);
  } else {
    replay = run_windows(runner, model.spec.window, input_raw);
  }
  r.check_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (replay.size() != prediction.size())
    throw std::runtime_error(path + ": the ONNX model gave " + std::to_string(replay.size()) + " samples for " +
                             std::to_string(prediction.size()) + " (a bug in the exporter)");
  for (size_t i = 0; i < replay.size(); ++i)
    r.max_deviation = std::max(r.max_deviation, std::abs(static_cast<double>(replay[i]) - prediction[i]));
  if (!(r.max_deviation <= tolerance))
    throw std::runtime_error(path + ": the ONNX model does not reproduce the LibTorch prediction (max deviation " +
                             std::to_string(r.max_deviation) + "); this is a bug in the exporter");
  return r;
}

}  // namespace cadenza::exporter
