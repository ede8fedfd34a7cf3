// A small condition language over named values, for a stage's stop rule
// (`stop_when = "val/esr > 0.5 && epoch >= 3"`) and `exp show --where`:
//
//   test/esr < 0.01 && train.hidden_size == 64 && status != failed
//
// Comparisons (< <= > >= == !=) of a name with a number or a word (quotes
// optional), joined by &&. In a stop rule the names are the stage's metric
// tags (their latest values) and `epoch` / `step` (the step of the latest
// metric); in --where, metric tags, override targets and the columns name,
// status, duration_s. A comparison whose name has no value is false;
// numbers compare as numbers, anything else as text.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace cadenza {

class Condition {
 public:
  // Throws Error naming `source` and what is wrong.
  static Condition parse(const std::string& text, const std::string& source);

  using Lookup = std::function<std::optional<nlohmann::json>(const std::string& name)>;
  bool holds(const Lookup& lookup) const;
  // The names the comparisons look up, in order, each once.
  std::vector<std::string> names() const;

 private:
  struct Comparison {
    std::string name, op;
    nlohmann::json value;
  };
  std::vector<Comparison> all_;
};

}  // namespace cadenza
