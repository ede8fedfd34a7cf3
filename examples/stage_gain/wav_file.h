// Minimal WAV reading and writing for the example: PCM 16-bit and 32-bit
// float, any channel count. (Real plugins would use libsndfile.)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gain_example {

struct Audio {
  int sample_rate = 0;
  int channels = 0;
  bool is_float = false;        // else PCM 16-bit
  std::vector<float> samples;   // interleaved, in [-1, 1]
};

// Throws cadenza::sdk::PluginError naming the file and the problem.
Audio read_wav(const std::string& path);
void write_wav(const std::string& path, const Audio& audio);

}  // namespace gain_example
