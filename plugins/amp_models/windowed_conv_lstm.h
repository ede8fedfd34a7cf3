// The users' previous template, ported as it was: each output sample is
// predicted from a window of the `window` most recent input samples by
// Conv1d → Conv1d (both 'same'-padded, strided, no activation, as in the
// Keras original) → LSTM over the few remaining steps → Linear on the last
// step. Kept so that old results can be reproduced and compared.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>

namespace cadenza::amp {

struct WindowedConvLstmImpl : torch::nn::Module {
  WindowedConvLstmImpl(int64_t window, int64_t filters, int64_t kernel, int64_t stride, int64_t hidden, int64_t layers);

  // windows: [batch, window], oldest sample first. Returns [batch].
  torch::Tensor forward(const torch::Tensor& windows);

  // Predicts every sample of `signal` [n] from its window, the signal taken
  // as silent before its start; streams in chunks (never holds more than a
  // chunk's windows). No gradients. Returns [n] on the CPU.
  torch::Tensor predict(const torch::Tensor& signal, torch::Device device);

  int64_t window;
  int64_t pad1_left, pad1_right, pad2_left, pad2_right;  // Keras 'same' padding
  torch::nn::Conv1d conv1{nullptr}, conv2{nullptr};
  torch::nn::LSTM lstm{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(WindowedConvLstm);

}  // namespace cadenza::amp
