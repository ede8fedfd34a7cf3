// The outer half of a containerised stage: exec-stage on the node, outside
// the image, checks what only the node can tell (the runtime is installed,
// the image is there, the image can take the binds) and runs the inner
// exec-stage through the runtime (container_command.h), forwarding a stop.
#pragma once

#include <functional>
#include <string>

#include "job_spec.h"

namespace cadenza {

// True in the exec-stage that a container runtime started.
bool in_container();

// Runs the inner exec-stage for `spec` (its file: `spec_path`) in the
// stage's container and waits for it; while it runs, `stop_requested()`
// turning true sends it SIGTERM once. Returns its exit code (128 + signal
// when killed). Throws Error with the fix when it cannot be started.
int launch_in_container(const JobSpec& spec, const std::string& spec_path,
                        const std::function<bool()>& stop_requested);

// Inside the container: "" or why this Cadenza cannot run the job (another
// version planned it, the image lacks the plugin), with the fix.
std::string container_mismatch(const JobSpec& spec);

}  // namespace cadenza
