#include "exec_stage.h"

#include <signal.h>
#include <sys/resource.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "container_command.h"
#include "container_launch.h"
#include "error.h"
#include "fs_util.h"
#include "job_spec.h"
#include "metrics_recorder.h"
#include "output_places.h"
#include "plugin_library.h"
#include "process_identity.h"
#include "promotion_guard.h"
#include "run_cache.h"
#include "stage_context.h"
#include "stage_key.h"
#include "wall_clock.h"
#include "work_claim.h"

namespace cadenza {

namespace {

std::atomic<bool> g_cancel{false};
// When the first stop signal arrived, in CLOCK_MONOTONIC milliseconds.
std::atomic<int64_t> g_stop_signal_ms{0};

int64_t monotonic_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

extern "C" void on_cancel_signal(int) {
  int64_t none = 0;
  g_stop_signal_ms.compare_exchange_strong(none, monotonic_ms());  // async-signal-safe
  g_cancel.store(true);
}

void install_cancel_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_cancel_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
}

// Why the stage was stopped. Every stop arrives as the same SIGTERM (a
// cancel, a time limit, a preemption on SLURM), so look at what is known:
// a user's cancel leaves a request file in the run directory before any
// signal is sent; a signal at the time limit is the limit; anything else
// came from outside Cadenza (a scheduler making room, an admin's kill).
sdk::Outcome stop_cause(const JobSpec& spec, int64_t started_ms, std::string* why) {
  std::error_code ec;
  if (fs::exists(spec.run_dir + "/cancel-requested", ec)) return sdk::Outcome::kCancelled;
  const int64_t at = g_stop_signal_ms.load();
  const double after_s = at > 0 ? static_cast<double>(at - started_ms) / 1000.0 : 0;
  // Backends stop jobs at their limit give or take their polling interval.
  if (spec.time_limit_s > 0 && after_s >= static_cast<double>(spec.time_limit_s) - 1.0) {
    *why = "stopped at its time limit of " + std::to_string(spec.time_limit_s) + " s";
    return sdk::Outcome::kTimedOut;
  }
  char text[160];
  std::snprintf(text, sizeof text,
                "stopped by a signal from outside Cadenza after %.1f s (a scheduler's "
                "preemption, or a kill/scancel not made through `cadenza cancel`)", after_s);
  *why = text;
  return sdk::Outcome::kPreempted;
}

// The larger of this process's peak resident memory and its largest
// child's: a script stage's memory is its command's, not exec-stage's.
double peak_rss_mb() {
  struct rusage self {}, children {};
  long kib = 0;
  if (getrusage(RUSAGE_SELF, &self) == 0) kib = self.ru_maxrss;
  if (getrusage(RUSAGE_CHILDREN, &children) == 0) kib = std::max(kib, children.ru_maxrss);
  return static_cast<double>(kib) / 1024.0;
}

// The stage runs in its working tree: the workspace, or an experiment's own
// (experiment_tree.h), so a script's relative paths mean the same in both.
class WorkingDirectory {
 public:
  explicit WorkingDirectory(const std::string& dir) {
    std::error_code ec;
    before_ = fs::current_path(ec);
    fs::current_path(dir, ec);
    if (ec) throw Error("cannot enter the stage's working directory " + dir + ": " + ec.message());
  }
  ~WorkingDirectory() {
    std::error_code ec;
    if (!before_.empty()) fs::current_path(before_, ec);
  }

 private:
  fs::path before_;
};

void check_outputs_written(const JobSpec& spec,
                           const std::map<std::string, std::string>& staging) {
  for (const auto& [name, rel] : spec.outs) {
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(staging.at(name), ec)))
      throw Error("stage '" + spec.stage + "' ended without error but did not write its out '" + name + "' (" +
                  rel + "): your command must create it, at " + rel + " in its working directory or at {out:" +
                  name + "} (a plugin: at StageContext::output(\"" + name + "\"))");
  }
}

// Moves each finished out from staging into place. The old output (if any)
// is renamed aside first and deleted last, so at every instant the final path
// holds either the complete old or the complete new output.
void promote_outputs(const JobSpec& spec, const std::map<std::string, std::string>& staging) {
  for (const auto& [name, rel] : spec.outs) {
    const std::string final_path = spec.workspace + "/" + rel;
    const std::string aside = staging_path_for(final_path, spec.run_id) + ".old";
    std::error_code ec;
    const bool had_old = fs::exists(fs::symlink_status(final_path, ec));
    if (had_old) fs::rename(final_path, aside);
    fs::rename(staging.at(name), final_path);
    if (had_old) remove_all_quietly(aside);
  }
}

// Promotes under the workspace's promotion lock, unless a later run took the
// workspace over without waiting for this job (promotion_guard.h).
void promote_outputs_unless_superseded(const JobSpec& spec,
                                       const std::map<std::string, std::string>& staging) {
  const std::string runs_dir = runs_dir_of(spec.run_dir, spec.run_id);
  if (runs_dir.empty()) return promote_outputs(spec, staging);
  PromotionGuard guard(runs_dir);
  if (std::string why = guard.refusal(spec.run_id, spec.stage, spec.attempt); !why.empty())
    throw Error("stage '" + spec.stage + "': " + why);
  promote_outputs(spec, staging);
}

// The stage key, for jobs submitted before their deps existed.
Hash128 node_side_key(const JobSpec& spec) {
  StageKeyInput in{spec.plugin_name, spec.plugin_version, hash_file(spec.plugin_path),
                   spec.params, {}, spec.outs, spec.image_id, spec.outputs_dir};
  for (const auto& [name, rel] : spec.deps)
    in.deps[name] = {rel, hash_tree(spec.workspace + "/" + rel, [](const std::string& p,
                                                                   const FileStat&) {
                       return hash_file(p);
                     }).hash};
  return stage_key(in);
}

// Success: objects first, then the run-cache entry, then the outputs, so an
// entry that exists always names complete objects.
void store_and_promote(const JobSpec& spec, const std::map<std::string, std::string>& staging,
                       const Hash128& key, ContentStore* store, RunCache* runs, LinkMode link,
                       JobResult& result) {
  check_outputs_written(spec, staging);
  if (store) {
    RunRecord record;
    record.key = key;
    record.stage = spec.stage;
    record.plugin = spec.plugin_name;
    record.created = wall_clock_s();
    record.metrics = summarize_metrics(spec.run_dir + "/metrics.jsonl");
    for (const auto& [name, rel] : spec.outs) {
      result.outs[name] = store->store(staging.at(name), spec.workspace, link);
      record.outs[name] = result.outs[name];
      record.paths[name] = rel;
    }
    runs->put(record);
  } else {
    for (const auto& [name, rel] : spec.outs)
      result.outs[name] = hash_tree(staging.at(name), [](const std::string& p, const FileStat&) {
        return hash_file(p);
      });
  }
  promote_outputs_unless_superseded(spec, staging);
  if (store) store->reseal_linked();
}

}  // namespace

namespace {

// What killed runs of this stage left next to an out (their staging paths,
// "<dir>/.<name>.cadenza-staging-<run id>[.old]"): the workspace holds at
// most one live run, so none of them is being written now.
void remove_stale_staging(const std::string& final_path) {
  const fs::path p(final_path);
  const std::string prefix = "." + p.filename().string() + ".cadenza-staging-";
  std::error_code ec;
  for (fs::directory_iterator it(p.parent_path(), ec), end; !ec && it != end; it.increment(ec))
    if (it->path().filename().string().rfind(prefix, 0) == 0) remove_all_quietly(it->path());
}

}  // namespace

namespace {

// A stop rule on a metric the stage never reported could not fire: say so
// rather than let a diverged training pass as a success in silence.
void warn_if_rule_never_applied(const JobSpec& spec, const MetricsRecorder& metrics, sdk::Outcome outcome) {
  if (outcome == sdk::Outcome::kCancelled) return;
  const auto missing = metrics.unreported_rule_metrics();
  if (missing.empty()) return;
  std::string names;
  for (const auto& m : missing) names += (names.empty() ? "" : ", ") + m;
  spdlog::warn("stage '{}': stop_when `{}` never applied: the stage never reported {}. A script reports "
               "metrics with `import cadenza` ($CADENZA_METRICS), metrics_from_dvclive, "
               "metrics_from_tensorboard, metrics_from_files or metrics_from_output; check the names "
               "against `cadenza exp show` or the run's metrics.jsonl",
               spec.stage, spec.stop_when, names);
}

}  // namespace

std::string staging_path_for(const std::string& final_path, const std::string& run_id) {
  const fs::path p(final_path);
  return (p.parent_path() / ("." + p.filename().string() + ".cadenza-staging-" + run_id))
      .string();
}

int exec_stage(const std::string& spec_path) {
  spdlog::set_pattern("%H:%M:%S %^%l%$ %v");
  JobSpec spec;
  try {
    spec = job_spec_from_json(nlohmann::json::parse(read_file(spec_path)), spec_path);
  } catch (const nlohmann::json::exception& e) {
    std::cerr << "error: " << spec_path << ": not a valid job spec (" << e.what() << ")\n";
    return kExitBadSpec;
  } catch (const Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kExitBadSpec;
  }
  install_cancel_handlers();
  const int64_t started_ms = monotonic_ms();

  JobResult result;
  result.started_at = wall_clock_s();
  std::map<std::string, std::string> staging;
  for (const auto& [name, rel] : spec.outs)
    staging[name] = staging_path_for(spec.workspace + "/" + rel, spec.run_id);
  OutputPlaces places(spec, staging);

  auto finish = [&](sdk::Outcome outcome, const std::string& error) {
    result.outcome = outcome;
    result.error = error;
    result.finished_at = wall_clock_s();
    result.peak_rss_mb = peak_rss_mb();
    if (outcome != sdk::Outcome::kSucceeded) {
      for (const auto& [name, path] : staging) remove_all_quietly(path);
      places.restore_previous();
    } else {
      places.drop_previous();
    }
    try {
      // Read by the orchestrator only after this process exited.
      write_file_atomic(spec.run_dir + "/result.json", to_json(result).dump(2),
                        Durability::kInPlace);
    } catch (const Error& e) {
      std::cerr << "error: " << e.what() << "\n";
    }
    if (!error.empty() && outcome != sdk::Outcome::kCancelled) spdlog::error("{}", error);
    if (outcome == sdk::Outcome::kSucceeded) return kExitStageSucceeded;
    return outcome == sdk::Outcome::kFailed ? kExitStageFailed : kExitStageStopped;
  };

  try {
    fs::create_directories(spec.run_dir);
    // A job SLURM requeued reruns in the same directory: the first run's
    // "preempted" must not describe this one if it dies without a word.
    remove_all_quietly(spec.run_dir + "/result.json");
    // Who runs this attempt, for `cadenza status` and a later run that must
    // wait for it if the process that started it is gone.
    // (The outer exec-stage's, not the container's: its pid means something here.)
    if (!in_container())
    write_file_atomic(spec.run_dir + "/exec.json",
                      nlohmann::json{{"process", ProcessIdentity::self().to_json()},
                                     {"started_at", result.started_at}}
                          .dump(),
                      Durability::kRenameOnly);
    if (spec.container && !in_container()) {
      const int code = launch_in_container(spec, spec_path, [] { return g_cancel.load(); });
      std::error_code ec;
      if (fs::exists(spec.run_dir + "/result.json", ec)) return code;  // the inner exec-stage said how it went
      if (g_cancel.load()) {
        std::string why;
        const sdk::Outcome outcome = stop_cause(spec, started_ms, &why);
        return finish(outcome, outcome == sdk::Outcome::kCancelled ? "" : why);
      }
      return finish(sdk::Outcome::kFailed, "the container did not run the stage (" +
                                               runtime_executable(spec.container->runtime) + " exited with " +
                                               std::to_string(code) + "); its own message is above in this log");
    }
    if (in_container())
      if (const std::string why = container_mismatch(spec); !why.empty()) return finish(sdk::Outcome::kFailed, why);
    for (const auto& [name, rel] : spec.deps) {
      std::error_code ec;
      if (!fs::exists(spec.workspace + "/" + rel, ec))
        return finish(sdk::Outcome::kFailed,
                      "stage '" + spec.stage + "': dep '" + name + "' (" + rel +
                          ") does not exist any more; it vanished after the run was planned");
    }
    for (const auto& [name, rel] : spec.outs)
      if (const std::string why = path_escape(spec.workspace, rel); !why.empty())
        return finish(sdk::Outcome::kFailed, "stage '" + spec.stage + "': out '" + name + "' " + why);
    for (const auto& [name, path] : staging) {
      remove_stale_staging(spec.workspace + "/" + spec.outs.at(name));
      remove_all_quietly(path);
      fs::create_directories(fs::path(path).parent_path());
    }

    // The run-cache, checked here too so that jobs submitted ahead of time
    // (a SLURM chain) skip work another job or user has already done.
    const Hash128 key = spec.key.empty() ? node_side_key(spec) : Hash128::from_hex(spec.key);
    // The stage's scratch dir (checkpoints) belongs to this key: only a rerun
    // of exactly the same work resumes from it; new inputs, params or plugin
    // code get a fresh one, and --force (reuse off) clears it. A retry of
    // the same run (attempt > 1) keeps it even with --force: that is what
    // lets a stage stopped at its time limit resume.
    spec.scratch_dir += "/" + key.hex().substr(0, 16);
    if (!spec.reuse_cached && spec.attempt == 1) remove_all_quietly(spec.scratch_dir);

    std::unique_ptr<ContentStore> store;
    std::unique_ptr<RunCache> runs;
    const LinkMode link = link_mode_from_name(spec.cache_link);
    // Identical work running elsewhere on this cache (another experiment of
    // a sweep, a colleague): wait for it, then restore what it stored.
    WorkClaim claim;
    if (!spec.cache_dir.empty()) {
      claim = WorkClaim::acquire(
          spec.cache_dir, key.hex(),
          [&] { spdlog::info("identical work (key {}) is running elsewhere on this cache; waiting for it", key.hex().substr(0, 12)); },
          [] { return g_cancel.load(); });
      if (!claim.held()) {
        std::string why;
        const sdk::Outcome outcome = stop_cause(spec, started_ms, &why);
        return finish(outcome, outcome == sdk::Outcome::kCancelled ? "" : why);
      }
    }
    if (!spec.cache_dir.empty()) {
      store = std::make_unique<ContentStore>(spec.cache_dir, spec.cache_shared);
      runs = std::make_unique<RunCache>(spec.cache_dir, spec.cache_shared);
      auto record = spec.reuse_cached ? runs->find(key) : std::nullopt;
      bool complete = record.has_value();
      for (const auto& [name, rel] : spec.outs)
        complete = complete && record->outs.count(name) && store->has(record->outs.at(name));
      if (complete) {
        try {
          for (const auto& [name, rel] : spec.outs)
            store->restore(record->outs.at(name), spec.workspace + "/" + rel, link);
          result.outs = record->outs;
          result.restored = true;
          spdlog::info("restored from cache (key {})", key.hex().substr(0, 12));
          return finish(sdk::Outcome::kSucceeded, "");
        } catch (const Error& e) {
          spdlog::warn("cached outputs could not be restored ({}); running the stage", e.what());
        }
      }
    }

    auto library = PluginLibrary::load(spec.plugin_path);
    if (library->info().name != spec.plugin_name)
      return finish(sdk::Outcome::kFailed,
                    spec.plugin_path + " is plugin '" + library->info().name +
                        "', but the job spec asks for '" + spec.plugin_name + "'");
    MetricsRecorder metrics(spec.run_dir);
    // A stop rule ends the stage like a cancel, with the rule as the reason.
    std::string stopped_by_rule;
    if (!spec.stop_when.empty())
      metrics.set_stop_rule(spec.stop_when, [&](const std::string& reason) {
        stopped_by_rule = reason;
        spdlog::warn("{}", reason);
        g_cancel.store(true);
      });
    for (const auto& sink_spec : spec.sinks) {
      try {
        auto sink = PluginLibrary::load(sink_spec.path)->create_sink();
        sdk::SinkRunInfo info{spec.workflow_name,      spec.experiment,      spec.run_id,
                              spec.stage,              spec.workspace,       spec.params.dump(),
                              sink_spec.config.dump(), spec.workflow_params.dump()};
        sink->open(info);
        metrics.add_sink(sink_spec.name, std::move(sink));
      } catch (const std::exception& e) {
        spdlog::warn("metric sink {} is disabled for this run: {}", sink_spec.name, e.what());
      }
    }

    std::string error;
    bool stopped = false;  // by a signal: cancel, time limit or preemption
    bool failed = false;
    places.clear_for_run();
    // For the stage and whatever it runs (a script checks it to resume):
    // documented in sdk/README.md, "The stage's environment".
    ::setenv("CADENZA_ATTEMPT", std::to_string(spec.attempt).c_str(), 1);
    const WorkingDirectory in_tree(spec.outputs_dir.empty() ? spec.workspace
                                                            : spec.workspace + "/" + spec.outputs_dir);
    {
      auto stage = library->create_stage();
      StageContextImpl context(spec, staging, metrics, g_cancel);
      const double run_started = wall_clock_s();
      struct RunTimer {
        JobResult& result;
        double started;
        ~RunTimer() { result.run_s = wall_clock_s() - started; }
      } timer{result, run_started};
      try {
        stage->run(context);
        stopped = g_cancel.load();
      } catch (const sdk::Cancelled&) {
        stopped = true;
      } catch (const sdk::PluginError& e) {
        (g_cancel.load() ? stopped : failed) = true;
        error = e.what();
      } catch (const std::exception& e) {
        (g_cancel.load() ? stopped : failed) = true;
        error = std::string("stage '") + spec.stage + "' threw an unexpected exception: " + e.what();
      } catch (...) {
        failed = true;
        error = "stage '" + spec.stage + "' threw an unknown exception";
      }
    }
    sdk::Outcome outcome = sdk::Outcome::kSucceeded;
    if (stopped && !stopped_by_rule.empty()) {
      outcome = sdk::Outcome::kCancelled;
      error = stopped_by_rule;
    } else if (stopped) {
      outcome = stop_cause(spec, started_ms, &error);
      if (outcome == sdk::Outcome::kCancelled) error.clear();
    } else if (failed) {
      outcome = sdk::Outcome::kFailed;
    }
    if (outcome == sdk::Outcome::kSucceeded) {
      try {
        places.adopt_written_in_place();
        places.keep_git_tracked_files();
        store_and_promote(spec, staging, key, store.get(), runs.get(), link, result);
      } catch (const std::exception& e) {
        outcome = sdk::Outcome::kFailed;
        error = e.what();
      }
    }
    warn_if_rule_never_applied(spec, metrics, outcome);
    metrics.close_sinks(outcome);
    return finish(outcome, error);
  } catch (const std::exception& e) {
    return finish(sdk::Outcome::kFailed, e.what());
  }
}

}  // namespace cadenza
