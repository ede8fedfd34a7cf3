#include "toml_values.h"

#include <sstream>

namespace cadenza {

nlohmann::json toml_to_json(const toml::node& node) {
  using nlohmann::json;
  switch (node.type()) {
    case toml::node_type::table: {
      json out = json::object();
      for (auto&& [key, value] : *node.as_table()) out[std::string(key.str())] = toml_to_json(value);
      return out;
    }
    case toml::node_type::array: {
      json out = json::array();
      for (auto&& value : *node.as_array()) out.push_back(toml_to_json(value));
      return out;
    }
    case toml::node_type::string: return node.value<std::string>().value();
    case toml::node_type::integer: return node.value<int64_t>().value();
    case toml::node_type::floating_point: return node.value<double>().value();
    case toml::node_type::boolean: return node.value<bool>().value();
    default:  // dates and times: kept as their TOML text
      return node.visit([](auto&& v) {
        std::ostringstream s;
        s << v;
        return s.str();
      });
  }
}

}  // namespace cadenza
