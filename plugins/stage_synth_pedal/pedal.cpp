#include "pedal.h"

#include <cmath>

namespace cadenza::synth {

std::vector<float> apply_pedal(const std::vector<float>& dry, const PedalOptions& o) {
  std::vector<float> out(dry.size());
  const double pi = 3.14159265358979323846;
  const double lowpass = 1.0 - std::exp(-2.0 * pi * o.tone_hz / o.sample_rate);
  const double bias = o.asymmetry * 0.5;
  const double offset = std::tanh(bias);  // keeps silence silent (no DC step)
  double previous = 0, tone = 0;
  for (size_t i = 0; i < dry.size(); ++i) {
    const double x = dry[i];
    const double emphasised = x - o.emphasis * previous;
    previous = x;
    const double clipped = std::tanh(o.drive * emphasised + bias) - offset;
    tone += lowpass * (clipped - tone);
    out[i] = static_cast<float>(o.level * tone);
  }
  return out;
}

}  // namespace cadenza::synth
