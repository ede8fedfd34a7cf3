// The two amp model families as ONNX graphs, built from ONNX's own protobuf
// definitions (Debian's libonnx-dev) and checked by ONNX's checker and strict
// shape inference before they are written. Plain C++: the weights arrive as
// float arrays with the dataset's normalisation already folded in, so every
// graph maps raw input samples to raw output samples.
//
// Opset 17 (ONNX 1.12, IR version 8): what Debian's ONNX checks, and what
// every ONNX Runtime since 1.13 runs.
//
// Sequence LSTM ("sequence_lstm"), streamable block by block:
//   inputs  input [T]         a block of T samples (any T >= 1)
//           h_in  [L, 1, H]   the state after the previous block
//           c_in  [L, 1, H]   (zeros before the first block)
//   outputs output [T]        the block's output samples
//           h_out, c_out      the state to pass with the next block
// Windowed conv+LSTM ("windowed_conv_lstm"):
//   inputs  window [N, W]     N windows of the W most recent samples, oldest first
//   outputs output [N]        the output sample at the end of each window
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cadenza::onnx_graph {

constexpr int kOpsetVersion = 17;
constexpr int kIrVersion = 8;

// One LSTM layer in PyTorch's layout: rows in gate order input, forget,
// cell, output; w_ih 4H x I, w_hh 4H x H, row-major.
struct LstmLayer {
  int64_t input_size = 0, hidden_size = 0;
  std::vector<float> w_ih, w_hh, b_ih, b_hh;
};

struct Head {  // output = w . h + b
  std::vector<float> w;
  float b = 0;
};

struct SequenceModel {
  std::vector<LstmLayer> layers;
  Head head;
  float skip_gain = 0;  // output += skip_gain * input (Wright's skip connection); 0: none
};

// PyTorch Conv1d weights (out x in x kernel) and its explicit padding.
struct Conv1d {
  int64_t in_channels = 0, out_channels = 0, kernel = 0, stride = 1, pad_left = 0, pad_right = 0;
  std::vector<float> w, b;
};

struct WindowedModel {
  int64_t window = 0;
  Conv1d conv1, conv2;
  std::vector<LstmLayer> layers;
  Head head;
};

// What goes into the file besides the graph (ModelProto.metadata_props).
struct Description {
  int sample_rate = 0;
  std::string name;  // the graph's name
  std::string producer_version;
};

// Serialised ModelProto bytes. Throws std::runtime_error when the weights
// do not have the shapes their sizes claim, or when ONNX's checker or its
// strict shape inference refuses the graph (a bug in this builder).
std::string build_sequence(const SequenceModel& model, const Description& d);
std::string build_windowed(const WindowedModel& model, const Description& d);

// Checks bytes read back from a file the way the builder checked them.
// Throws std::runtime_error naming `path` and what ONNX said.
void check(const std::string& bytes, const std::string& path);

}  // namespace cadenza::onnx_graph
