// The backends one run uses, and the only place the orchestrator calls them.
//
// Backends are plugins written by strangers, so every call is wrapped: a
// throw from submit() becomes an Error for that stage, a throw from wait()
// finishes every job that backend holds as failed with its message, a throw
// from cancel() or attach() becomes a warning. None takes the engine down.
//
// Where backends come from is a seam: the default factory loads the plugin
// library; tests pass a factory that returns a scripted fake.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cadenza/sdk/backend.h"
#include "prepared_workflow.h"

namespace cadenza {

// Makes the backend called `name` (full plugin name) from the library at `path`.
using BackendFactory =
    std::function<std::shared_ptr<sdk::Backend>(const std::string& name, const std::string& path)>;
BackendFactory plugin_backend_factory();

struct BackendUpdate {
  std::string backend;
  sdk::JobUpdate update;
};

class BackendPool {
 public:
  // `host` receives job output and must outlive the pool.
  BackendPool(const PreparedWorkflow& pw, int max_jobs, sdk::BackendHost& host,
              BackendFactory factory);

  // Loads and configures `name` on first use. Throws Error naming the
  // workflow's [backends.<name>] table when configure() refuses.
  sdk::Backend& get(const std::string& name);
  bool handles_dependencies(const std::string& name);

  // Throws Error with the backend's message.
  sdk::JobHandle submit(const std::string& name, const sdk::JobRequest& request);
  // Many like jobs at once (the backend's submit_array: a SLURM job array);
  // one handle per request, in order. Throws Error with the backend's message.
  std::vector<sdk::JobHandle> submit_many(const std::string& name, const std::vector<sdk::JobRequest>& requests);
  // Returns "" or the backend's complaint.
  std::string attach(const std::string& name, const std::vector<sdk::JobHandle>& handles);
  std::string cancel(const std::string& name, const sdk::JobHandle& handle);

  // Jobs the pool is waiting for, per backend; the orchestrator adds a handle
  // when it submits or attaches and the pool drops it when it finishes.
  void track(const std::string& name, const sdk::JobHandle& handle) { active_[name].insert(handle); }
  size_t active_jobs() const;
  // Polls every backend that has active jobs; finished jobs stop being active.
  std::vector<BackendUpdate> wait(int timeout_ms);
  // What backends threw from wait() since the last call, for the terminal.
  std::vector<std::string> take_errors() { return std::move(errors_); }

 private:
  const PreparedWorkflow& pw_;
  int max_jobs_;
  sdk::BackendHost& host_;
  BackendFactory factory_;
  std::map<std::string, std::shared_ptr<sdk::Backend>> backends_;
  std::map<std::string, std::set<sdk::JobHandle>> active_;
  std::vector<std::string> errors_;
};

}  // namespace cadenza
