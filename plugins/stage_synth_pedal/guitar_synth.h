// A guitar-like dry (DI) signal: Karplus-Strong plucked strings playing
// single notes and chords at varied pitch and loudness, with silences.
// Deterministic for a seed on every platform: the random numbers come from
// std::mt19937_64 through our own mapping, since the standard's
// distributions differ between library implementations.
#pragma once

#include <cstdint>
#include <vector>

namespace cadenza::synth {

struct SynthOptions {
  uint64_t seed = 1;
  double duration_s = 60;
  int sample_rate = 44100;
};

std::vector<float> guitar_signal(const SynthOptions& options);

}  // namespace cadenza::synth
