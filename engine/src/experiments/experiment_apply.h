// `cadenza exp apply` and `cadenza exp diff`.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "experiment_record.h"

namespace cadenza {

// `text` (a workflow.toml) with each override ({"train.hidden_size": 64,
// "params.sample_rate": 48000}) written in place: an existing value is
// replaced where it stands, a missing param is added to the stage's params
// table (inline or not), so comments and layout survive. Throws Error naming
// `file` when a target's stage or [params] entry is not there.
std::string write_overrides_into_toml(const std::string& text, const std::string& file,
                                      const nlohmann::json& overrides);

// Writes the experiment's overrides into `workflow_path` (atomically) and
// restores every stage's outputs that the cache holds into the workspace,
// updating its lock, so that `cadenza status` then says up to date.
void apply_experiment(const std::string& workflow_path, const ExperimentRecord& experiment,
                      std::ostream& out);

// Params and metrics side by side, and for each stage why it differs.
void print_experiment_diff(const std::string& workflow_path, const ExperimentRecord& a,
                           const ExperimentRecord& b, std::ostream& out);

}  // namespace cadenza
