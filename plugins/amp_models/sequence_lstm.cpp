#include "sequence_lstm.h"

#include <torch/torch.h>

namespace cadenza::amp {

SequenceLstmImpl::SequenceLstmImpl(int64_t hidden, int64_t layer_count, bool skip)
    : hidden_size(hidden), layers(layer_count), skip_connection(skip) {
  lstm = register_module("lstm", torch::nn::LSTM(torch::nn::LSTMOptions(1, hidden).num_layers(layer_count).batch_first(true)));
  head = register_module("head", torch::nn::Linear(hidden, 1));
}

std::pair<torch::Tensor, LstmState> SequenceLstmImpl::forward(const torch::Tensor& x, const LstmState& state) {
  std::tuple<torch::Tensor, std::tuple<torch::Tensor, torch::Tensor>> out;
  if (std::get<0>(state).defined()) out = lstm->forward(x, state);
  else out = lstm->forward(x);
  torch::Tensor y = head->forward(std::get<0>(out));
  if (skip_connection) y = y + x;
  return {y, std::get<1>(out)};
}

torch::Tensor SequenceLstmImpl::predict(const torch::Tensor& signal, torch::Device device) {
  torch::NoGradGuard no_grad;
  // 8192-sample chunks: cuDNN's LSTM refused 65536-sample sequences on an H200.
  const int64_t n = signal.size(0), chunk = 8192;
  std::vector<torch::Tensor> parts;
  LstmState state;
  for (int64_t s = 0; s < n; s += chunk) {
    const auto x = signal.narrow(0, s, std::min(chunk, n - s)).contiguous().view({1, -1, 1}).to(device);
    auto [y, next] = forward(x, state);
    state = next;
    parts.push_back(y.view({-1}).to(torch::kCPU));
  }
  return parts.empty() ? torch::zeros({0}) : torch::cat(parts);
}

}  // namespace cadenza::amp
