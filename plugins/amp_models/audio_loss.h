// Losses and the error measure of amp emulation, with time on dimension 1.
#pragma once

#include <torch/types.h>

namespace cadenza::amp {

// Error-to-signal ratio with first-order pre-emphasis (y[n] - a*y[n-1]) plus
// the DC term of Wright et al.:
//   ESR = sum((t' - p')^2) / sum(t'^2),  DC = mean(t - p)^2 / mean(t^2).
// `prediction` and `target` are [batch, time, 1] (or any matching shape with
// time on dimension 1). Returns a scalar tensor.
torch::Tensor esr_dc_loss(const torch::Tensor& prediction, const torch::Tensor& target, double emphasis);

// Plain ESR, sum((t - p)^2) / sum(t^2), no pre-emphasis, no DC term: the
// number experiment tables show.
double esr(const torch::Tensor& prediction, const torch::Tensor& target);

}  // namespace cadenza::amp
