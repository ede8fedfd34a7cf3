// TOML values as JSON: how workflow.toml params, sweep files and TOML params
// files reach the rest of the engine (which speaks nlohmann::json).
#pragma once

#include <nlohmann/json.hpp>

#include "toml_include.h"

namespace cadenza {

// Tables, arrays, strings, integers, floats and bools as their JSON
// counterparts; dates and times as their TOML text.
nlohmann::json toml_to_json(const toml::node& node);

}  // namespace cadenza
