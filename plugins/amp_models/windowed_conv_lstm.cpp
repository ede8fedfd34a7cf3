#include "windowed_conv_lstm.h"

#include <torch/torch.h>

namespace cadenza::amp {

namespace {

// Keras 'same' padding for a strided convolution: the output has
// ceil(length / stride) steps and the padding is split, the extra on the right.
std::pair<int64_t, int64_t> same_padding(int64_t length, int64_t kernel, int64_t stride) {
  const int64_t out = (length + stride - 1) / stride;
  const int64_t total = std::max<int64_t>((out - 1) * stride + kernel - length, 0);
  return {total / 2, total - total / 2};
}

}  // namespace

WindowedConvLstmImpl::WindowedConvLstmImpl(int64_t window_size, int64_t filters, int64_t kernel, int64_t stride,
                                           int64_t hidden, int64_t layers)
    : window(window_size) {
  std::tie(pad1_left, pad1_right) = same_padding(window, kernel, stride);
  const int64_t steps1 = (window + stride - 1) / stride;
  std::tie(pad2_left, pad2_right) = same_padding(steps1, kernel, stride);
  conv1 = register_module("conv1", torch::nn::Conv1d(torch::nn::Conv1dOptions(1, filters, kernel).stride(stride)));
  conv2 = register_module("conv2", torch::nn::Conv1d(torch::nn::Conv1dOptions(filters, filters, kernel).stride(stride)));
  lstm = register_module("lstm", torch::nn::LSTM(torch::nn::LSTMOptions(filters, hidden).num_layers(layers).batch_first(true)));
  head = register_module("head", torch::nn::Linear(hidden, 1));
}

torch::Tensor WindowedConvLstmImpl::forward(const torch::Tensor& windows) {
  namespace F = torch::nn::functional;
  auto x = windows.unsqueeze(1);  // [batch, 1, window]
  x = conv1->forward(F::pad(x, F::PadFuncOptions({pad1_left, pad1_right})));
  x = conv2->forward(F::pad(x, F::PadFuncOptions({pad2_left, pad2_right})));
  auto out = std::get<0>(lstm->forward(x.permute({0, 2, 1}).contiguous()));  // [batch, steps, hidden]
  return head->forward(out.select(1, out.size(1) - 1)).squeeze(1);
}

torch::Tensor WindowedConvLstmImpl::predict(const torch::Tensor& signal, torch::Device device) {
  torch::NoGradGuard no_grad;
  const int64_t n = signal.size(0), chunk = 8192;
  const auto padded = torch::cat({torch::zeros({window - 1}, signal.options()), signal});
  std::vector<torch::Tensor> parts;
  for (int64_t s = 0; s < n; s += chunk) {
    const int64_t len = std::min(chunk, n - s);
    // unfold is a view: the chunk's windows exist only as this batch.
    const auto windows = padded.narrow(0, s, len + window - 1).unfold(0, window, 1).contiguous().to(device);
    parts.push_back(forward(windows).to(torch::kCPU));
  }
  return parts.empty() ? torch::zeros({0}) : torch::cat(parts);
}

}  // namespace cadenza::amp
