// The stateful sequence LSTM of Wright et al. (2019/2020) for guitar
// amplifier and pedal emulation: an LSTM runs over the audio sample by
// sample, a linear layer maps its state to one output sample, and the input
// is added back (skip connection), so the network learns the difference the
// device makes. The same weights run in real time in Neural Amp Modeler.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>

#include <tuple>

namespace cadenza::train {

using LstmState = std::tuple<torch::Tensor, torch::Tensor>;  // (h, c), each [layers, batch, hidden]

struct SequenceLstmImpl : torch::nn::Module {
  SequenceLstmImpl(int64_t hidden_size, int64_t layers);

  // x: [batch, time, 1]. Returns the prediction [batch, time, 1] and the
  // state after the last sample. An undefined `state` starts from zeros.
  std::pair<torch::Tensor, LstmState> forward(const torch::Tensor& x, const LstmState& state);

  int64_t hidden_size, layers;
  torch::nn::LSTM lstm{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(SequenceLstm);

// Error-to-signal ratio with first-order pre-emphasis (y[n] - a*y[n-1]) plus
// the DC term of Wright et al.:
//   ESR = sum((t' - p')^2) / sum(t'^2),  DC = mean(t - p)^2 / mean(t^2).
// `prediction` and `target` are [batch, time, 1] (or any matching shape with
// time on dimension 1). Returns a scalar tensor.
torch::Tensor esr_dc_loss(const torch::Tensor& prediction, const torch::Tensor& target, double emphasis);

// Plain ESR (no pre-emphasis, no DC term): the number experiment tables show.
double esr(const torch::Tensor& prediction, const torch::Tensor& target);

}  // namespace cadenza::train
