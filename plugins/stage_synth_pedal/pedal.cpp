#include "pedal.h"

#include <cmath>

namespace cadenza::synth {

namespace {

std::vector<float> compfuzz(const std::vector<float>& dry, const PedalOptions& o) {
  std::vector<float> out(dry.size());
  const double pi = 3.14159265358979323846, rate = o.sample_rate;
  const double attack = 1.0 - std::exp(-1.0 / (0.005 * rate)), release = 1.0 - std::exp(-1.0 / (0.080 * rate));
  const double lowpass = 1.0 - std::exp(-2.0 * pi * o.tone_hz / rate);
  const double dc_pole = std::exp(-2.0 * pi * 20.0 / rate);
  const double bias = o.asymmetry * 0.2;
  double envelope = 0, dc_in = 0, dc_out = 0, lp1 = 0, lp2 = 0;
  for (size_t i = 0; i < dry.size(); ++i) {
    const double x = dry[i];
    const double level = std::abs(x);
    envelope += (level > envelope ? attack : release) * (level - envelope);
    // Gain falls as the envelope rises: 12 dB of compression at full level.
    const double gain = o.drive / (1.0 + 3.0 * envelope / 0.5);
    const double v = gain * x + bias;
    // Hard knee: linear up to 0.6, then a cubic that flattens at 1.
    const double a = std::abs(v), knee = 0.6;
    const double shaped = a < knee ? a : knee + (1 - knee) * std::tanh((a - knee) / (1 - knee));
    const double fuzz = (v < 0 ? -shaped : shaped);
    // DC blocker (removes the rectified bias), then a two-pole lowpass.
    dc_out = fuzz - dc_in + dc_pole * dc_out;
    dc_in = fuzz;
    lp1 += lowpass * (dc_out - lp1);
    lp2 += lowpass * (lp1 - lp2);
    out[i] = static_cast<float>(o.level * lp2);
  }
  return out;
}

}  // namespace

std::vector<float> apply_pedal(const std::vector<float>& dry, const PedalOptions& o) {
  if (o.circuit == "compfuzz") return compfuzz(dry, o);
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
