// The training loop of both model families, behind a header free of
// LibTorch so that the stage wrapper does not pay its compile time.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model_spec.h"

namespace cadenza::train {

struct TrainConfig {
  amp::ModelSpec model;
  double learning_rate = 0.005;
  std::string lr_schedule = "plateau";  // plateau: halve after lr_patience epochs without improvement; constant
  int64_t lr_patience = 3;
  int64_t batch_size = 16;         // sequence_lstm: segments; windowed_conv_lstm: windows
  int64_t segment_length = 22050;  // sequence_lstm: samples trained per segment, after warm-up
  int64_t tbptt_length = 2048;     // sequence_lstm: samples per backprop step
  int64_t warmup = 1000;           // sequence_lstm: samples run without gradients to settle the state
  int64_t epochs = 20;
  int64_t patience = 6;            // early stopping: epochs without improvement
  double max_minutes = 0;          // stop training after this much time (0: no limit)
  int64_t seed = 1;
  int64_t threads = 1;
  std::string device = "auto";     // auto, cpu, cuda
  double emphasis = 0.95;          // sequence_lstm: pre-emphasis coefficient of the ESR loss
  int64_t audio_every = 5;         // epochs between audio clips (0: never)
};

struct Audio {
  int sample_rate = 0;
  std::vector<float> input, target;
};

struct TrainCallbacks {
  std::function<void(const std::string&)> log;
  std::function<void(const std::string& tag, double value, int64_t epoch)> scalar;
  std::function<void(const std::string& tag, const std::vector<float>&, int sample_rate, int64_t epoch)> audio;
  std::function<void(double done, double total)> progress;
  std::function<bool()> cancelled;
};

struct TrainResult {
  bool cancelled = false;
  int64_t best_epoch = -1;
  double best_val_esr = 0;
  int64_t epochs_run = 0;
  int64_t resumed_from_epoch = 0;  // 0: started fresh
  bool time_limit_reached = false;
  double samples_per_s = 0;        // output samples trained per second
  double train_seconds = 0;
  std::string device;
};

// Trains on `train`, validates on the whole of `val` after every epoch.
// `scratch_dir` keeps the last epoch's checkpoint (model, optimizer,
// progress): a killed run of the same config resumes there. The best
// epoch's weights are saved to `model_path` (a LibTorch archive, see
// amp::AmpModel::save). Throws std::runtime_error with a message.
TrainResult train_model(const TrainConfig& config, const Audio& train, const Audio& val, const std::string& scratch_dir,
                        const std::string& model_path, const TrainCallbacks& callbacks);

// A stable text of the config, to refuse resuming another config's checkpoint.
std::string config_fingerprint(const TrainConfig& config);

}  // namespace cadenza::train
