// How exec-stage runs a stage inside its container: the runtime's command
// line around the same `cadenza exec-stage <spec>`, with the workspace, the
// cache, the run directory (and, for cadenza = "host", the host's Cadenza
// binary and plugins) bound at the same paths, so that every path in the job
// spec means the same inside and out.
//
//   apptainer/singularity exec [--nv] --bind SRC:DST... EXTRA IMAGE CMD...
//   ch-run -b SRC:DST... EXTRA IMAGE -- CMD...       (charliecloud)
//   podman run --rm [--device nvidia.com/gpu=all] -v SRC:DST... EXTRA
//          (IMAGE | --rootfs DIR) CMD...
//
// CMD is `/usr/bin/env CADENZA_IN_CONTAINER=1 <cadenza> exec-stage <spec>`:
// the inner exec-stage sees the variable and runs the stage itself.
// Environment: apptainer, singularity and charliecloud pass the job's
// environment (what the backend's policy let through) into the container,
// podman passes none but the variable above.
#pragma once

#include <string>
#include <vector>

#include "job_spec.h"

namespace cadenza {

constexpr const char* kInContainerVariable = "CADENZA_IN_CONTAINER";

struct Bind {
  std::string src;
  std::string dst;
};

// Every bind the stage needs, the user's last; one that lies inside an
// earlier one at the same place is dropped. Throws Error for a malformed
// user bind ("src[:dst]", both absolute).
std::vector<Bind> container_binds(const JobSpec& spec, const std::string& cadenza_binary);

// The runtime's argv that runs `inner` in the image.
std::vector<std::string> container_argv(const ContainerSpec& c, const std::vector<Bind>& binds,
                                        const std::vector<std::string>& inner);

// The runtime's executable name ("ch-run" for charliecloud).
std::string runtime_executable(const std::string& runtime);

// "" or why the image cannot take the binds: Charliecloud (0.31) mounts only
// onto directories the image has, and cannot create them in a read-only
// image; host /tmp is visible in its containers anyway.
std::string check_binds(const ContainerSpec& c, const std::vector<Bind>& binds);

}  // namespace cadenza
