#include "sequence_lstm.h"

#include <torch/torch.h>

namespace cadenza::train {

SequenceLstmImpl::SequenceLstmImpl(int64_t hidden, int64_t layer_count) : hidden_size(hidden), layers(layer_count) {
  lstm = register_module("lstm", torch::nn::LSTM(torch::nn::LSTMOptions(1, hidden).num_layers(layer_count).batch_first(true)));
  head = register_module("head", torch::nn::Linear(hidden, 1));
}

std::pair<torch::Tensor, LstmState> SequenceLstmImpl::forward(const torch::Tensor& x, const LstmState& state) {
  std::tuple<torch::Tensor, std::tuple<torch::Tensor, torch::Tensor>> out;
  if (std::get<0>(state).defined()) out = lstm->forward(x, state);
  else out = lstm->forward(x);
  const torch::Tensor y = head->forward(std::get<0>(out)) + x;  // skip connection
  return {y, std::get<1>(out)};
}

namespace {

torch::Tensor emphasise(const torch::Tensor& s, double a) {
  const int64_t t = s.size(1);
  return s.narrow(1, 1, t - 1) - a * s.narrow(1, 0, t - 1);
}

}  // namespace

torch::Tensor esr_dc_loss(const torch::Tensor& prediction, const torch::Tensor& target, double emphasis) {
  constexpr double kEps = 1e-10;
  const torch::Tensor p = emphasise(prediction, emphasis), t = emphasise(target, emphasis);
  const torch::Tensor esr = (t - p).pow(2).sum() / (t.pow(2).sum() + kEps);
  const torch::Tensor dc = (target - prediction).mean().pow(2) / (target.pow(2).mean() + kEps);
  return esr + dc;
}

double esr(const torch::Tensor& prediction, const torch::Tensor& target) {
  return ((target - prediction).pow(2).sum() / (target.pow(2).sum() + 1e-10)).item<double>();
}

}  // namespace cadenza::train
