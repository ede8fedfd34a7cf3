#include "amp_model.h"

#include <torch/torch.h>

#include <fstream>

namespace cadenza::amp {

AmpModel::AmpModel(const ModelSpec& s) : spec(s) {
  if (spec.family == "sequence_lstm") {
    sequence = SequenceLstm(spec.hidden_size, spec.layers, spec.skip_connection);
  } else if (spec.family == "windowed_conv_lstm") {
    windowed = WindowedConvLstm(spec.window, spec.conv_filters, spec.conv_kernel, spec.conv_stride, spec.hidden_size,
                                spec.layers);
  } else {
    throw std::runtime_error("unknown model family '" + spec.family + "'");
  }
}

std::shared_ptr<torch::nn::Module> AmpModel::module() const {
  if (sequence) return sequence.ptr();
  return windowed.ptr();
}

torch::Tensor AmpModel::predict(const torch::Tensor& signal, torch::Device device) {
  return sequence ? sequence->predict(signal, device) : windowed->predict(signal, device);
}

void AmpModel::save(const std::string& path) const { torch::save(module(), path); }

void AmpModel::load(const std::string& path, torch::Device device) {
  try {
    if (sequence) torch::load(sequence, path, device);
    else torch::load(windowed, path, device);
  } catch (const c10::Error& e) {
    throw std::runtime_error(path + ": not weights of a " + spec.family + " with this config.json (" +
                             e.what_without_backtrace() + ")");
  }
}

AmpModel load_model_dir(const std::string& dir) {
  const std::string config_path = dir + "/config.json";
  std::ifstream in(config_path);
  if (!in) throw std::runtime_error(config_path + ": missing; the model must come from stage_train_lstm");
  ModelSpec spec;
  try {
    spec = ModelSpec::from_json(nlohmann::json::parse(in));
  } catch (const std::exception& e) {
    throw std::runtime_error(config_path + ": " + e.what());
  }
  AmpModel model(spec);
  model.load(dir + "/model.pt", torch::kCPU);
  model.module()->eval();
  return model;
}

}  // namespace cadenza::amp
