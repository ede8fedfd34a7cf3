// The stateful sequence LSTM of Wright et al. (2019/2020) for guitar
// amplifier and pedal emulation: an LSTM runs over the audio sample by
// sample and a linear layer maps its state to one output sample. With
// `skip_connection` the input is added back, so the network learns the
// difference the device makes (Wright's form); without it the network is
// exactly Neural Amp Modeler's LSTM and exports to a .nam file.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>

#include <tuple>

namespace cadenza::amp {

using LstmState = std::tuple<torch::Tensor, torch::Tensor>;  // (h, c), each [layers, batch, hidden]

struct SequenceLstmImpl : torch::nn::Module {
  SequenceLstmImpl(int64_t hidden_size, int64_t layers, bool skip_connection);

  // x: [batch, time, 1]. Returns the prediction [batch, time, 1] and the
  // state after the last sample. An undefined `state` starts from zeros.
  std::pair<torch::Tensor, LstmState> forward(const torch::Tensor& x, const LstmState& state);

  // Runs over a whole signal [n] (batch 1) in chunks with the state carried;
  // the result does not depend on the chunking. No gradients. Returns [n] on
  // the CPU.
  torch::Tensor predict(const torch::Tensor& signal, torch::Device device);

  int64_t hidden_size, layers;
  bool skip_connection;
  torch::nn::LSTM lstm{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(SequenceLstm);

}  // namespace cadenza::amp
