// Cadenza SDK — stage plugins.
//
// A stage is one step of a workflow: it reads its inputs (deps), writes its
// outputs (outs) and may emit metrics. The engine never runs stage code in
// its own process: `cadenza exec-stage` loads the plugin in a child process
// (locally, or on a SLURM node), creates the Stage, calls run() once and
// destroys it, all while the library stays loaded.
//
// Threading: run() is called on one thread. The stage may start threads of
// its own but must join them before run() returns.
//
// Errors: throw cadenza::sdk::PluginError with a message for the user. Any
// other exception is caught too, but its message is usually less helpful.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cadenza/sdk/error.h"
#include "cadenza/sdk/metrics.h"
#include "cadenza/sdk/param_spec.h"
#include "cadenza/sdk/visibility.h"

namespace cadenza::sdk {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// Everything a running stage gets from the engine. Owned by the engine; valid
// only during Stage::run(). All paths are absolute.
class CADENZA_API_VISIBLE StageContext {
 public:
  virtual ~StageContext() = default;

  // The stage's name in workflow.toml, e.g. "train".
  virtual std::string stage_name() const = 0;

  // The resolved params as a JSON object: every declared param, defaults
  // filled in, shared references replaced. See params.h for typed access.
  virtual std::string params_json() const = 0;

  // Path of the dep declared under `name` in the stage's `deps` table.
  // Throws PluginError naming the stage and the missing key if undeclared.
  virtual std::string input(std::string_view name) const = 0;
  virtual std::vector<std::string> input_names() const = 0;

  // Where to write the out declared under `name` in the stage's `outs`
  // table. This is a staging path: the engine moves it into place only when
  // run() returns normally, so a failed run never leaves a half-written
  // output looking finished. Its parent directory exists; the path does not.
  virtual std::string output(std::string_view name) const = 0;
  virtual std::vector<std::string> output_names() const = 0;

  // A directory private to this stage and its cache key that survives a
  // failed or killed run: put checkpoints here to resume instead of restart.
  virtual std::string scratch_dir() const = 0;

  // CPU cores granted to this stage (its `resources.cpus`, at least 1).
  virtual int cpus() const = 0;

  virtual void log(LogLevel level, std::string_view message) = 0;
  virtual MetricsEmitter& metrics() = 0;

  // Set when the user cancels (Ctrl-C, `cadenza cancel`) or the backend
  // preempts the job. Check it between steps and return (or throw
  // Cancelled) promptly; the engine kills the process after a grace period.
  virtual bool cancelled() const = 0;

  // Progress for the terminal and `cadenza status`: `done` of `total`
  // `unit`s (e.g. 3 of 20 "epochs"). Cheap; call as often as you like.
  virtual void progress(double done, double total, std::string_view unit) = 0;
};

class CADENZA_API_VISIBLE Stage {
 public:
  virtual ~Stage() = default;

  // The params this stage accepts. Must not depend on anything but the
  // plugin's own code: the engine caches the answer by library identity.
  virtual std::vector<ParamSpec> params() const = 0;

  // Do the work. Return normally on success; throw PluginError on failure.
  virtual void run(StageContext& context) = 0;
};

}  // namespace cadenza::sdk
