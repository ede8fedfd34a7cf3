#include "model_spec.h"

#include <stdexcept>

namespace cadenza::amp {

nlohmann::json ModelSpec::to_json() const {
  nlohmann::json j = {{"family", family}, {"hidden_size", hidden_size}, {"layers", layers}, {"sample_rate", sample_rate},
                      {"normalization", {{"input_gain", input_gain}, {"target_gain", target_gain}}}};
  if (family == "sequence_lstm") {
    j["skip_connection"] = skip_connection;
  } else {
    j["window"] = window;
    j["conv_filters"] = conv_filters;
    j["conv_kernel"] = conv_kernel;
    j["conv_stride"] = conv_stride;
  }
  return j;
}

namespace {

template <typename T>
T field(const nlohmann::json& j, const char* name) {
  if (!j.contains(name)) throw std::runtime_error(std::string("missing field '") + name + "'");
  try {
    return j.at(name).get<T>();
  } catch (const nlohmann::json::exception&) {
    throw std::runtime_error(std::string("field '") + name + "' has the wrong type: " + j.at(name).dump());
  }
}

}  // namespace

ModelSpec ModelSpec::from_json(const nlohmann::json& j) {
  ModelSpec s;
  s.family = field<std::string>(j, "family");
  if (s.family != "sequence_lstm" && s.family != "windowed_conv_lstm")
    throw std::runtime_error("field 'family': unknown model family '" + s.family + "'");
  s.hidden_size = field<int64_t>(j, "hidden_size");
  s.layers = field<int64_t>(j, "layers");
  s.sample_rate = field<int>(j, "sample_rate");
  if (j.contains("normalization")) {
    s.input_gain = j["normalization"].value("input_gain", 1.0);
    s.target_gain = j["normalization"].value("target_gain", 1.0);
  }
  if (s.family == "sequence_lstm") {
    s.skip_connection = field<bool>(j, "skip_connection");
  } else {
    s.window = field<int64_t>(j, "window");
    s.conv_filters = field<int64_t>(j, "conv_filters");
    s.conv_kernel = field<int64_t>(j, "conv_kernel");
    s.conv_stride = field<int64_t>(j, "conv_stride");
  }
  return s;
}

}  // namespace cadenza::amp
