// Training loop of the sequence LSTM, behind a header free of LibTorch so
// that only trainer.cpp and sequence_lstm.cpp pay its compile time.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace cadenza::train {

struct TrainConfig {
  int64_t hidden_size = 32;
  int64_t layers = 1;
  double learning_rate = 0.005;
  int64_t lr_patience = 3;         // epochs without improvement before halving lr
  int64_t batch_size = 16;
  int64_t segment_length = 22050;  // samples trained per segment, after warm-up
  int64_t tbptt_length = 2048;     // samples per backprop step
  int64_t warmup = 1000;           // samples run without gradients to settle the state
  int64_t epochs = 20;
  int64_t patience = 6;            // early stopping: epochs without improvement
  int64_t seed = 1;
  int64_t threads = 1;
  std::string device = "auto";     // auto, cpu, cuda
  double emphasis = 0.95;          // pre-emphasis coefficient of the loss
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
  double samples_per_s = 0;
  double train_seconds = 0;
  std::string device;
};

// Trains on `train`, validates on `val`. `scratch_dir` keeps the last
// epoch's checkpoint (model, optimizer, progress): a killed run of the same
// config resumes there. The best model is saved to `model_path`
// (torch::save of the module). Throws std::runtime_error with a message.
TrainResult train_sequence_lstm(const TrainConfig& config, const Audio& train, const Audio& val,
                                const std::string& scratch_dir, const std::string& model_path,
                                const TrainCallbacks& callbacks);

// Runs a saved model over `input` (stateful, chunked). For export and tests.
std::vector<float> predict(const std::string& model_path, int64_t hidden_size, int64_t layers,
                           const std::vector<float>& input);

// A stable text of the config, to refuse resuming another config's checkpoint.
std::string config_fingerprint(const TrainConfig& config);

}  // namespace cadenza::train
