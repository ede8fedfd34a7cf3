// `cadenza exec-stage <spec.json>`: runs one stage, in this process.
//
// This is what a backend runs, on this machine or on a cluster node:
//   1. read and check the job spec;
//   2. load the stage plugin (and the metric sinks);
//   3. give the stage staging paths for its outs and run it, with SIGTERM
//      and SIGINT turned into the context's cancellation flag;
//   4. on success, check every promised out exists and move the outs into
//      place (rename, so a half-written output never looks finished); on
//      failure or cancel, delete the staging paths;
//   5. write <run_dir>/result.json atomically and exit with
//      kExitStage{Succeeded,Failed,Stopped} (job_spec.h); result.json names
//      the outcome (outcome.h), telling a cancel from a time limit.
// A plugin that throws fails the stage with its message; one that crashes
// kills only this process, and the orchestrator reports the signal.
#pragma once

#include <string>

namespace cadenza {

int exec_stage(const std::string& spec_path);

// The staging path exec-stage gives a stage for an out: a hidden sibling of
// the final path (same directory, so the final rename is atomic).
std::string staging_path_for(const std::string& final_path, const std::string& run_id);

}  // namespace cadenza
