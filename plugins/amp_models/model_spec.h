// What a trained amp model is, independent of LibTorch: its family and
// shape, the sample rate it was trained at and the dataset's normalisation.
// stage_train_lstm writes it as config.json next to the weights;
// stage_export reads it back to rebuild the same network.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace cadenza::amp {

struct ModelSpec {
  // "sequence_lstm": Wright et al.'s stateful LSTM over the audio, sample by
  // sample. "windowed_conv_lstm": the template's Conv1d×2 → LSTM → Linear on
  // the last step of a window of `window` past samples.
  std::string family = "sequence_lstm";
  int64_t hidden_size = 32;
  int64_t layers = 1;
  bool skip_connection = false;  // sequence_lstm: output = head(h) + input
  int64_t window = 150;          // windowed_conv_lstm: input_size of the template
  int64_t conv_filters = 16;
  int64_t conv_kernel = 12;
  int64_t conv_stride = 12;

  int sample_rate = 0;
  // The dataset's normalisation: the model maps input*input_gain to
  // target*target_gain. Export divides it back out.
  double input_gain = 1.0, target_gain = 1.0;

  nlohmann::json to_json() const;
  // Throws std::runtime_error naming the missing or bad field.
  static ModelSpec from_json(const nlohmann::json& j);
};

}  // namespace cadenza::amp
