// The demo's "known nonlinear pedals".
//
// overdrive: first-order pre-emphasis, input drive, asymmetric soft clipping
// (so even harmonics appear, as in real circuits), a one-pole tone lowpass
// and output level. Stateful (the filters), so a model must learn memory,
// not just a curve; its memory is short (a few samples).
//
// compfuzz, built differently: a compressor whose envelope follower
// (5 ms attack, 80 ms release) sets the gain into a hard-knee fuzz with a
// rectifying bias, then a DC blocker and a two-pole tone lowpass. Its memory
// is long (thousands of samples): the gain now depends on how loud the last
// tenth of a second was.
#pragma once

#include <string>
#include <vector>

namespace cadenza::synth {

struct PedalOptions {
  std::string circuit = "overdrive";  // or "compfuzz"
  double drive = 6.0;        // linear gain before clipping
  double asymmetry = 0.3;    // 0: symmetric clipping
  double tone_hz = 3500;     // lowpass after clipping
  double emphasis = 0.7;     // pre-emphasis coefficient (y = x - a * x[n-1])
  double level = 0.5;        // output gain
  int sample_rate = 44100;
};

std::vector<float> apply_pedal(const std::vector<float>& dry, const PedalOptions& options);

}  // namespace cadenza::synth
