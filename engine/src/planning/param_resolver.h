// Resolves a stage's params against its plugin's declared schema.
//
// For each param the stage sets: the key must be declared by the plugin (or
// the plugin takes any other param, ParamSpec::AnyOther, typed by its value),
// "${name}" is replaced by the shared param [params].name (the whole value
// keeps the shared param's type; inside a longer string it becomes its text,
// "--lr ${lr}"; "$${" is a literal "${"), and the
// value must have the declared type (an integer is accepted where a float is
// declared), lie within `choices` and bounds. Params the stage does not set
// take their defaults; a required one that is missing is an error. Errors
// carry the file, line and column of the offending value.
//
// The result holds exactly the declared params, keys sorted: this canonical
// JSON is what the stage receives and what its cache key is computed from.
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "cadenza/sdk/param_spec.h"
#include "workflow.h"

namespace cadenza {

// `v` with every ${name} replaced as above, in nested arrays and tables too.
// Throws Error at `where` for a name [params] does not define.
nlohmann::json substitute_shared(const nlohmann::json& v, const Workflow& workflow, const std::string& where);
// The shared params `v` refers to.
std::set<std::string> shared_references(const nlohmann::json& v);

nlohmann::json resolve_params(const Workflow& workflow, const StageDecl& stage,
                              const std::vector<sdk::ParamSpec>& schema);

}  // namespace cadenza
