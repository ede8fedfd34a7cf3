// The dataset directory written by stage_preprocess, read back by the
// training and export stages: dataset.json plus one float WAV pair per split.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace cadenza::amp {

struct Split {
  std::vector<float> input, target;
};

struct Dataset {
  std::string dir;
  nlohmann::json meta;  // dataset.json
  int sample_rate = 0;
  double input_gain = 1.0, target_gain = 1.0;

  // Reads dataset.json. Throws std::runtime_error naming the file.
  static Dataset open(const std::string& dir);
  // Reads the "train", "val" or "test" pair (normalised, as the model sees
  // it). Throws std::runtime_error naming the file and the problem.
  Split read(const std::string& split) const;
};

// A mono 32-bit float WAV. Throws std::runtime_error naming the file.
void write_wav(const std::string& path, const std::vector<float>& samples, int sample_rate);
std::vector<float> read_wav_mono(const std::string& path, int* sample_rate);

}  // namespace cadenza::amp
