// What Cadenza reads back from a TensorBoard Event (wire_fields.h): its step
// and the scalars and audio clips of its summary. Scalars come in both forms
// writers use: `simple_value` (SummaryWriter.add_scalar) and a one-element
// float or double `tensor` (newer writers, add_scalar(new_style=True)).
// Audio comes as `Summary.Audio` (SummaryWriter.add_audio) or as the audio
// plugin's string tensor. Everything else (images, histograms, text,
// graphs, hparams) is skipped.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cadenza::tensorboard {

struct ReadEvent {
  int64_t step = 0;
  double wall_time = 0;
  struct Scalar {
    std::string tag;
    double value;
  };
  struct Audio {
    std::string tag;
    std::string encoded;  // the clip's file bytes (WAV)
  };
  std::vector<Scalar> scalars;
  std::vector<Audio> audio;
};

// None: the bytes are not an Event (malformed protobuf).
std::optional<ReadEvent> read_event(std::string_view payload);

}  // namespace cadenza::tensorboard
