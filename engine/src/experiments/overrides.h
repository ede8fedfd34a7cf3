// What makes an experiment different from the workflow as written: param
// overrides (`--set train.hidden_size=64`), and the sweeps that generate
// many sets of them (`--grid`, `range(...)`, a sweep file).
//
// A target is "<stage>.<param>", "params.<shared param>" or "<params
// file>:<key>" (params.yaml:train.lr, a key some stage tracks in its
// params_files; the experiment gets its own copy of the file with that
// value edited in place). Values are read
// as TOML values (64, 5e-3, true, "text", [1, 2]); a bare word that is not
// one is taken as a string. Nothing here knows the plugins' schemas: the
// overridden workflow goes through the same resolution as workflow.toml, so
// an unknown key, a wrong type or a value out of range is refused there,
// with the override's own text as the position.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "workflow.h"

namespace cadenza {

struct Override {
  std::string target;   // "train.hidden_size", "params.sample_rate"
  nlohmann::json value;
  std::string source;   // "--set train.hidden_size=64": where errors point
};

using Variant = std::vector<Override>;  // one experiment's overrides, in order

// "train.hidden_size=64". Throws Error naming `flag` and the argument.
Override parse_set(const std::string& arg, const std::string& flag = "--set");

// "train.hidden_size=32,64" or "train.hidden_size=range(16,129,16)" (Python's
// range: start, stop exclusive, step; integers, or floats with a step).
// One Override per value. Throws Error.
std::vector<Override> parse_grid(const std::string& arg);

// A sweep file (TOML): [set] fixed overrides, [grid] lists (or "range(...)"
// strings) crossed with each other, and/or [[variant]] tables, one
// experiment each (crossed with [grid] when both are present). Keys are
// targets: `"train.hidden_size" = [32, 64]`. Throws Error with file:line.
// A [[variant]] may carry `name = "small"`: its experiments are named by it
// (and by the [set]/[grid] values crossed with it) instead of its overrides.
struct SweepSpec {
  Variant fixed;
  std::vector<std::vector<Override>> grid;  // one axis per target
  std::vector<Variant> variants;            // explicit ones
  std::vector<std::string> variant_names;   // one per variant; empty: named by its overrides
};
SweepSpec load_sweep_file(const std::string& path);

// Every combination: fixed + one value per grid axis (+ one explicit
// variant each), in a stable order (axes vary fastest from the last).
std::vector<Variant> expand(const SweepSpec& spec);
// The experiment name of each of expand()'s variants, in the same order
// (variant_name(), or a named [[variant]]'s name + the rest's).
std::vector<std::string> expanded_names(const SweepSpec& spec);

// Applies `variant` to a parsed workflow. Throws Error naming the override
// when its stage or shared param does not exist, or when it would change
// nothing: a shared param no stage refers to, a params file key no stage
// tracks. (A stage param the plugin does not know is refused when the
// workflow's params are resolved.)
void apply_overrides(Workflow& wf, const Variant& variant);

// "hidden_size-64+learning_rate-0.005": readable, stable for the same
// overrides, safe as a directory name and in a shell (letters, digits and
// . _ - +; anything else becomes _). A label two targets share keeps its
// target ("train.lr-0.1+finetune.lr-0.01"). The overrides themselves stay
// in the experiment's record for display. "baseline" for none.
std::string variant_name(const Variant& variant);

// Overrides as {"target": value}, for records and tables.
nlohmann::json overrides_json(const Variant& variant);

}  // namespace cadenza
