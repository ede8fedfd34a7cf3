// Cadenza's own version: `cadenza --version`, and what a job spec records so
// that a Cadenza inside a container can tell it is not the one that planned
// the job.
#pragma once

namespace cadenza {

constexpr const char* kCadenzaVersion = "0.1.0";

}  // namespace cadenza
