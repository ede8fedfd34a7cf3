// `cadenza finish-run <run dir>`: the last job of a run handed to a
// scheduler (run --detach on SLURM). It runs once every other job of the
// run has ended, however they ended, and does what the driver would have
// done: records each stage's outcome from its result file, puts the
// succeeded stages into workflow.lock, and marks the run finished.
#pragma once

#include "commands.h"

namespace cadenza {

int cmd_finish_run(const Args& args);

}  // namespace cadenza
