// Neural Amp Modeler's `.nam` file, LSTM architecture: writing, reading and
// running it, without LibTorch. The runner is our own re-implementation of
// NAM's LSTM forward pass; the export stage checks every file it writes by
// running it over the test input and comparing with the LibTorch prediction.
//
// The file is JSON:
//   { "version": "0.5.4", "architecture": "LSTM",
//     "config": { "num_layers": L, "input_size": 1, "hidden_size": H },
//     "sample_rate": 44100, "metadata": { ... }, "weights": [ ... ] }
//
// `weights` is one flat float array, layer after layer, then the head:
//   per layer l (input size I = 1 for l = 0, else H):
//     W   4H x (I + H), row-major: row r = [W_ih[r, :], W_hh[r, :]]
//         (PyTorch's gate order along rows: input, forget, cell, output)
//     b   4H: b_ih + b_hh
//     h0  H: initial hidden state
//     c0  H: initial cell state
//   head: w (H), then the bias (1). Output = w . h_top + bias.
// NAM's LSTM has no skip connection from the input.
// Reference: NeuralAmpModelerCore NAM/lstm.cpp (LSTMCell, LSTM constructors).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace cadenza::nam {

struct LstmFile {
  int num_layers = 1, input_size = 1, hidden_size = 0;
  int sample_rate = 0;
  nlohmann::json metadata = nlohmann::json::object();
  std::vector<float> weights;
};

// Number of floats `weights` must hold for this shape.
size_t lstm_weight_count(int num_layers, int input_size, int hidden_size);

// Throws std::runtime_error naming the path.
void write_lstm(const std::string& path, const LstmFile& file);
// Throws std::runtime_error naming the path and the field that is wrong.
LstmFile read_lstm(const std::string& path);

// NAM's LSTM forward pass, one sample at a time, state carried.
class LstmRunner {
 public:
  explicit LstmRunner(const LstmFile& file);
  float process(float x);
  std::vector<float> process(const std::vector<float>& input);

 private:
  struct Layer {
    int in = 0;
    std::vector<float> w, b, xh, c, gates;  // xh = [input, h]
  };
  int hidden_;
  std::vector<Layer> layers_;
  std::vector<float> head_w_;
  float head_b_ = 0;
};

}  // namespace cadenza::nam
