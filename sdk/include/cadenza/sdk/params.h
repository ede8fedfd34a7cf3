// Cadenza SDK — typed access to a stage's resolved params (header-only).
//
//   const auto params = cadenza::sdk::Params::parse(context);
//   double lr = params.get<double>("learning_rate");
//
// Uses nlohmann_json (header-only) inside the plugin; nothing of it crosses
// the boundary. Include it only if you want it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "cadenza/sdk/error.h"
#include "cadenza/sdk/stage.h"

namespace cadenza::sdk {

class Params {
 public:
  static Params parse(const StageContext& context) {
    return Params(context.stage_name(), nlohmann::json::parse(context.params_json()));
  }
  Params(std::string stage, nlohmann::json values)
      : stage_(std::move(stage)), values_(std::move(values)) {}

  template <typename T>
  T get(const std::string& name) const {
    auto it = values_.find(name);
    if (it == values_.end())
      throw PluginError("stage '" + stage_ + "': param '" + name +
                        "' was not resolved; declare it in the stage's params()");
    try {
      return it->template get<T>();
    } catch (const nlohmann::json::exception&) {
      throw PluginError("stage '" + stage_ + "': param '" + name + "' has the wrong type (" +
                        it->dump() + ")");
    }
  }
  const nlohmann::json& json() const { return values_; }

 private:
  std::string stage_;
  nlohmann::json values_;
};

}  // namespace cadenza::sdk
