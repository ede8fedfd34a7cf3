#include "audio_loss.h"

#include <torch/torch.h>

namespace cadenza::amp {

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

}  // namespace cadenza::amp
