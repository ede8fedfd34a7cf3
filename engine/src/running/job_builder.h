// Turns one attempt of a stage into a job: writes its job spec into the
// attempt's directory and returns the request a backend gets. The command
// is always `cadenza exec-stage <spec.json>` with the same binary.
#pragma once

#include <string>
#include <vector>

#include "cadenza/sdk/backend.h"
#include "prepared_workflow.h"

namespace cadenza {

struct AttemptPlan {
  int attempt = 1;
  sdk::Resources resources;                // escalated by retries
  std::vector<std::string> exclude_nodes;  // where earlier attempts hit node failures
  std::vector<sdk::JobHandle> after;       // held on these (dependency-handling backends)
  std::string key_hex;                     // empty: exec-stage computes the key on the node
  bool reuse_cached = true;                // false with --force
  std::string image_id;                    // the container image's identity (the key needs it)
};

struct BuiltJob {
  std::string dir;  // the attempt's directory
  sdk::JobRequest request;
};

// Throws Error if the spec cannot be written.
BuiltJob build_job(const PreparedWorkflow& pw, size_t stage, const std::string& run_root,
                   const std::string& run_id, const AttemptPlan& plan);

// The stage's declared resources, as a backend sees them.
sdk::Resources declared_resources(const StageDecl& decl);

}  // namespace cadenza
