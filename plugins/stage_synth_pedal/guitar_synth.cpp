#include "guitar_synth.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace cadenza::synth {

namespace {

class Random {
 public:
  explicit Random(uint64_t seed) : engine_(seed) {}
  double uniform() { return static_cast<double>(engine_() >> 11) * (1.0 / 9007199254740992.0); }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  int integer(int lo, int hi) { return lo + static_cast<int>(uniform() * (hi - lo + 1)); }

 private:
  std::mt19937_64 engine_;
};

// One plucked string (Karplus-Strong with a two-point lowpass in the loop).
void pluck(std::vector<float>& out, size_t start, size_t length, double freq, double amplitude,
           double brightness, int sample_rate, Random& rng) {
  const size_t period = std::max<size_t>(2, static_cast<size_t>(std::lround(sample_rate / freq)));
  std::vector<double> line(period);
  for (auto& x : line) x = rng.uniform(-1, 1);
  // Soften the initial burst: less bright plucks have less high-frequency energy.
  for (size_t k = 1; k < period; ++k) line[k] = brightness * line[k] + (1 - brightness) * line[k - 1];
  const double decay = 0.996;
  size_t idx = 0;
  for (size_t i = 0; i < length && start + i < out.size(); ++i) {
    const size_t next = (idx + 1) % period;
    const double y = line[idx];
    line[idx] = decay * 0.5 * (line[idx] + line[next]);
    idx = next;
    const double fade = i + 200 > length ? static_cast<double>(length - i) / 200.0 : 1.0;  // no clicks
    out[start + i] += static_cast<float>(amplitude * y * fade);
  }
}

}  // namespace

std::vector<float> guitar_signal(const SynthOptions& o) {
  const size_t total = static_cast<size_t>(o.duration_s * o.sample_rate);
  std::vector<float> out(total, 0.0f);
  Random rng(o.seed);
  static const int kChord[][3] = {{0, 4, 7}, {0, 3, 7}, {0, 7, 12}, {0, 5, 7}};  // major, minor, power, sus4
  size_t t = static_cast<size_t>(0.05 * o.sample_rate);
  while (t < total) {
    const double event = rng.uniform();
    const size_t length = static_cast<size_t>(rng.uniform(0.25, 1.6) * o.sample_rate);
    const double amplitude = rng.uniform(0.08, 0.45);  // pp to ff
    const double brightness = rng.uniform(0.3, 1.0);
    const int root = rng.integer(40, 76);              // E2 to E5 (MIDI)
    auto freq = [](int midi) { return 440.0 * std::pow(2.0, (midi - 69) / 12.0); };
    if (event < 0.15) {
      t += length / 2;  // a silence
      continue;
    }
    if (event < 0.6) {
      pluck(out, t, length, freq(root), amplitude, brightness, o.sample_rate, rng);
    } else {
      const auto& chord = kChord[rng.integer(0, 3)];
      const size_t strum = static_cast<size_t>(rng.uniform(0.005, 0.03) * o.sample_rate);
      for (int k = 0; k < 3; ++k)
        pluck(out, t + static_cast<size_t>(k) * strum, length, freq(root + chord[k]), amplitude * 0.7,
              brightness, o.sample_rate, rng);
    }
    t += static_cast<size_t>(static_cast<double>(length) * rng.uniform(0.4, 1.0));
  }
  // Keep the dry signal within [-1, 1] like a DI recording would be.
  float peak = 0;
  for (float x : out) peak = std::max(peak, std::fabs(x));
  if (peak > 0.95f)
    for (auto& x : out) x *= 0.95f / peak;
  return out;
}

}  // namespace cadenza::synth
