// `cadenza run --attach`: follow a live run from any shell, as if it had been
// started here: its stages' state changes and their output with a [stage]
// prefix, until it ends. Reads only the run record and the stages' logs;
// Ctrl-C stops following, never the run.
#pragma once

#include <string>

namespace cadenza {

// Returns the run's exit code, 130 when the user stopped following, or 1
// when the run's driver died before the run ended.
int follow_run(const std::string& runs_dir, const std::string& run_id);

}  // namespace cadenza
