// One trained (or trainable) amp model of either family, built from its
// ModelSpec: what the training and export stages hold. Exactly one of
// `sequence` and `windowed` is set, as `spec.family` says.
#pragma once

#include <memory>
#include <string>

#include "model_spec.h"
#include "sequence_lstm.h"
#include "windowed_conv_lstm.h"

namespace cadenza::amp {

struct AmpModel {
  explicit AmpModel(const ModelSpec& spec);

  ModelSpec spec;
  SequenceLstm sequence{nullptr};
  WindowedConvLstm windowed{nullptr};

  // The network, for parameters(), to(), train()/eval() and serialisation.
  std::shared_ptr<torch::nn::Module> module() const;

  // The prediction for a whole signal [n] (normalised units), streamed in
  // chunks; returns [n] on the CPU.
  torch::Tensor predict(const torch::Tensor& signal, torch::Device device);

  // model.pt: the LibTorch archive of the weights (torch::save of the module).
  void save(const std::string& path) const;
  void load(const std::string& path, torch::Device device);
};

// Reads config.json and model.pt from a model directory written by
// stage_train_lstm. Throws std::runtime_error naming the file.
AmpModel load_model_dir(const std::string& dir);

}  // namespace cadenza::amp
