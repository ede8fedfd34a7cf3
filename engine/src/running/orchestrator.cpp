#include "orchestrator.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include "error.h"
#include "fs_util.h"
#include "job_spec.h"
#include "plugin_library.h"
#include "parallel.h"
#include "run_console.h"
#include "run_record.h"
#include "subprocess.h"
#include "workspace_cache.h"

namespace cadenza {

using nlohmann::json;

namespace {

std::atomic<int> g_interrupts{0};
std::atomic<bool> g_cancel_requests{false};
extern "C" void on_interrupt(int) { g_interrupts.fetch_add(1); }
extern "C" void on_cancel_request(int) { g_cancel_requests.store(true); }

std::string make_run_id() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  std::ostringstream s;
  s << std::put_time(&tm, "%Y%m%d-%H%M%S") << "-" << std::hex
    << ((static_cast<unsigned>(::getpid()) * 2654435761u) & 0xffffu);
  return s.str();
}

std::string seconds_text(double s) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(s < 10 ? 2 : 1) << s << "s";
  return out.str();
}

}  // namespace

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // `cadenza cancel <stage>` leaves a request file and sends SIGUSR1.
  struct sigaction usr {};
  usr.sa_handler = on_cancel_request;
  sigemptyset(&usr.sa_mask);
  sigaction(SIGUSR1, &usr, nullptr);
}

int interrupt_count() { return g_interrupts.load(); }

enum class StageState { kNotSelected, kPending, kSubmitted, kRunning, kSucceeded, kFailed,
                        kCancelled, kBlocked };

struct Orchestrator::Impl : public sdk::BackendHost {
  const PreparedWorkflow& pw;
  RunOptions options;
  std::ostream& out;
  std::string run_id;
  std::string run_root;
  std::vector<StageState> state;
  std::vector<double> started;

  struct BackendSlot {
    std::shared_ptr<sdk::Backend> backend;
    std::map<sdk::JobId, size_t> jobs;  // active job -> stage
  };
  std::map<std::string, BackendSlot> backends;
  std::vector<sdk::JobId> job_of;
  std::vector<std::optional<StageFingerprint>> fingerprints;
  WorkspaceCache cache;
  bool backends_loaded = false;
  std::unique_ptr<RunRecorder> recorder;
  std::vector<bool> cancel_sent;
  RunConsole console;
  bool failed_once = false;
  int cancels_sent = 0;
  int up_to_date = 0, restored = 0;

  Impl(const PreparedWorkflow& p, RunOptions o, std::ostream& os)
      : pw(p), options(std::move(o)), out(os), cache(p.workflow()),
        console(os, ::isatty(STDOUT_FILENO) == 1 && &os == &std::cout) {}

  void say(const std::string& line) { console.say(line); }

  void show_progress() {
    std::vector<RunConsole::Running> running;
    for (size_t i = 0; i < state.size(); ++i)
      if (state[i] == StageState::kRunning)
        running.push_back({name(i), run_root + "/" + name(i) + "/progress.json"});
    console.show_progress(running, now());
  }

  const std::string& name(size_t i) const { return pw.workflow().stages[i].name; }

  void job_output(sdk::JobId id, std::string_view line) override {
    for (auto& [bname, slot] : backends) {
      auto it = slot.jobs.find(id);
      if (it == slot.jobs.end()) continue;
      say("[" + name(it->second) + "] " + std::string(line));
      return;
    }
  }

  void note_state(size_t i, const std::string& state, const std::string& error = "") {
    if (recorder) recorder->stage(name(i), state, error);
  }

  // Cancel requests left by `cadenza cancel <stage>` (signalled by SIGUSR1).
  void handle_cancel_requests() {
    if (!g_cancel_requests.exchange(false)) return;
    for (size_t i = 0; i < state.size(); ++i) {
      if (state[i] != StageState::kSubmitted && state[i] != StageState::kRunning) continue;
      std::error_code ec;
      if (cancel_sent[i] || !fs::exists(run_root + "/" + name(i) + "/cancel-requested", ec)) continue;
      cancel_sent[i] = true;
      say("[" + name(i) + "] cancel requested");
      backends.at(pw.stage(i).backend).backend->cancel(job_of[i]);
    }
  }

  void load_backends() {
    if (backends_loaded) return;
    backends_loaded = true;
    for (const auto& [bname, path] : pw.backend_paths()) {
      auto backend = PluginLibrary::load(path)->create_backend();
      json config = pw.workflow().backend_configs.count(bname)
                        ? pw.workflow().backend_configs.at(bname)
                        : json::object();
      if (options.jobs > 0) config["max_jobs"] = options.jobs;
      try {
        backend->configure(config.dump(), *this);
      } catch (const std::exception& e) {
        throw Error(pw.workflow().file + ": [backends." + bname + "]: " + e.what());
      }
      backends[bname] = BackendSlot{std::move(backend), {}};
    }
  }

  bool upstream_done(size_t i) const {
    for (size_t u : pw.graph().upstream(i))
      if (state[u] != StageState::kSucceeded && state[u] != StageState::kNotSelected)
        return false;
    return true;
  }

  // For backends that hold jobs until their deps succeed (SLURM): true when
  // every upstream stage is at least submitted to the same backend.
  bool upstream_submitted_to(size_t i, const std::string& backend,
                             std::vector<sdk::JobId>* after) const {
    for (size_t u : pw.graph().upstream(i)) {
      if (state[u] == StageState::kSucceeded || state[u] == StageState::kNotSelected) continue;
      if ((state[u] != StageState::kSubmitted && state[u] != StageState::kRunning) ||
          pw.stage(u).backend != backend)
        return false;
      after->push_back(job_of[u]);
    }
    return true;
  }

  void fail_before_start(size_t i, const std::string& why) {
    state[i] = StageState::kFailed;
    say("[" + name(i) + "] FAILED: " + why);
    note_state(i, "failed", why);
    failed_once = true;
    block_downstream(i);
  }

  // What the cache says about a stage whose deps are ready.
  struct Evaluation {
    std::optional<StageFingerprint> fingerprint;
    std::vector<std::string> reasons;  // empty: up to date
    std::string error;
  };

  // Thread-safe; called in parallel for the stages that became ready together.
  Evaluation evaluate(size_t i) {
    Evaluation ev;
    try {
      ev.fingerprint = cache.fingerprint(pw.stage(i));
      if (!options.force) ev.reasons = cache.reasons_to_run(pw.stage(i), *ev.fingerprint);
    } catch (const Error& e) {
      ev.error = e.what();
    }
    return ev;
  }

  // Up to date, restored, or submitted. Without an evaluation the job goes
  // to a dependency-handling backend before its inputs exist; exec-stage
  // then computes the key itself on the node.
  void start_stage(size_t i, const std::vector<sdk::JobId>& after, Evaluation* ev) {
    const PreparedStage& ps = pw.stage(i);
    if (ev) {
      if (!ev->error.empty()) return fail_before_start(i, ev->error);
      fingerprints[i] = ev->fingerprint;
      const StageFingerprint& fp = *fingerprints[i];
      if (!options.force) {
        const auto& reasons = ev->reasons;
        if (reasons.empty()) {
          state[i] = StageState::kSucceeded;
          ++up_to_date;
          note_state(i, "up-to-date");
          if (options.explain) say("[" + name(i) + "] up to date");
          return;
        }
        if (auto record = cache.cached_run(fp.key)) {
          try {
            cache.restore(ps, *record);
            cache.record(ps, fp, record->outs, /*restored=*/true);
            cache.save_lock_throttled(1.0);
            state[i] = StageState::kSucceeded;
            ++restored;
            note_state(i, "restored");
            say("[" + name(i) + "] restored from cache (key " + fp.key.hex().substr(0, 12) + ")" +
                (options.explain ? ": " + join(reasons) : ""));
            return;
          } catch (const Error& e) {
            say("[" + name(i) + "] cached outputs unusable (" + e.what() + "); running the stage");
          }
        }
        if (options.explain) say("[" + name(i) + "] runs: " + join(reasons));
      }
    }
    try {
      load_backends();
      submit(i, after);
    } catch (const Error& e) {
      if (!backends_loaded || backends.count(ps.backend)) return fail_before_start(i, e.what());
      throw;
    }
  }

  static std::string join(const std::vector<std::string>& parts) {
    std::string s;
    for (const auto& p : parts) s += (s.empty() ? "" : "; ") + p;
    return s;
  }

  void submit(size_t i, const std::vector<sdk::JobId>& after) {
    const PreparedStage& ps = pw.stage(i);
    const StageDecl& decl = *ps.decl;
    const Workflow& wf = pw.workflow();
    JobSpec spec;
    spec.run_id = run_id;
    spec.workflow_name = wf.name;
    spec.experiment = wf.experiment;
    spec.stage = decl.name;
    spec.workspace = wf.workspace;
    spec.plugin_name = ps.plugin.name;
    spec.plugin_version = ps.plugin.version;
    spec.plugin_path = ps.plugin_path;
    spec.image = decl.image;
    spec.cache_dir = wf.cache_dir;
    spec.cache_link = wf.cache_link;
    spec.cache_shared = wf.cache_shared;
    spec.key = fingerprints[i] ? fingerprints[i]->key.hex() : "";
    spec.reuse_cached = !options.force;
    spec.params = ps.params;
    for (const auto& [n, d] : decl.deps) spec.deps[n] = d.path;
    for (const auto& [n, o] : decl.outs) spec.outs[n] = o.path;
    spec.run_dir = run_root + "/" + decl.name;
    spec.scratch_dir = wf.state_dir() + "/scratch/" + decl.name;  // + "/<key>" by exec-stage
    spec.cpus = decl.resources.cpus;
    spec.sinks = ps.sinks;
    if (!ps.sinks.empty()) spec.workflow_params = workflow_params();
    const std::string spec_path = spec.run_dir + "/spec.json";
    write_file_atomic(spec_path, to_json(spec).dump(2), Durability::kInPlace);

    sdk::JobRequest request;
    request.name = decl.name;
    request.argv = {current_executable().string(), "exec-stage", spec_path};
    request.workdir = wf.workspace;
    request.log_path = spec.run_dir + "/log.txt";
    request.resources = {decl.resources.cpus, decl.resources.gpus, decl.resources.mem_bytes,
                         decl.resources.time_limit_s};
    request.after = after;
    request.backend_config_json = decl.backend_config.dump();
    auto& slot = backends.at(ps.backend);
    sdk::JobId id = 0;
    try {
      id = slot.backend->submit(request);
    } catch (const std::exception& e) {
      throw Error(decl.pos.str() + ": stage '" + decl.name + "' could not be submitted to " +
                  ps.backend + ": " + e.what());
    }
    slot.jobs[id] = i;
    job_of[i] = id;
    state[i] = StageState::kSubmitted;
    note_state(i, "submitted");
  }

  // The selected stages' params as {"stage.param": value}, for sinks.
  nlohmann::json workflow_params() const {
    json flat = json::object();
    for (size_t k = 0; k < pw.size(); ++k)
      if (pw.selected(k))
        for (const auto& [key, value] : pw.stage(k).params.items())
          flat[pw.stage(k).decl->name + "." + key] = value;
    return flat;
  }

  void block_downstream(size_t i) {
    for (size_t d : pw.graph().downstream(i)) {
      if (state[d] != StageState::kPending) continue;
      state[d] = StageState::kBlocked;
      note_state(d, "blocked");
      block_downstream(d);
    }
  }

  void finish(size_t i, const sdk::JobUpdate& update) {
    const std::string run_dir = run_root + "/" + name(i);
    const std::string result_path = run_dir + "/result.json";
    std::error_code ec;
    JobResult result;
    bool have_result = false;
    if (fs::exists(result_path, ec)) {
      try {
        result = job_result_from_json(json::parse(read_file(result_path)), result_path);
        have_result = true;
      } catch (const std::exception&) {
      }
    }
    const double took = have_result ? result.finished_at - result.started_at
                                    : now() - started[i];
    if (update.state == sdk::JobState::kSucceeded && have_result &&
        result.status == "succeeded") {
      state[i] = StageState::kSucceeded;
      if (result.restored) {
        ++restored;
        note_state(i, "restored");
        say("[" + name(i) + "] restored from cache by exec-stage");
      } else {
        note_state(i, "succeeded");
        char peak[48] = "";
        if (result.peak_rss_mb > 0) std::snprintf(peak, sizeof peak, ", peak memory %.0f MB", result.peak_rss_mb);
        say("[" + name(i) + "] done in " + seconds_text(took) + peak);
      }
      try {
        if (!fingerprints[i]) fingerprints[i] = cache.fingerprint(pw.stage(i));
        cache.record(pw.stage(i), *fingerprints[i], result.outs, result.restored);
        cache.save_lock_throttled(1.0);
      } catch (const Error& e) {
        say("[" + name(i) + "] warning: could not update " + cache.lock().path() + ": " + e.what());
      }
    } else if (update.state == sdk::JobState::kCancelled ||
               (have_result && result.status == "cancelled")) {
      state[i] = StageState::kCancelled;
      note_state(i, "cancelled");
      say("[" + name(i) + "] cancelled after " + seconds_text(took));
      block_downstream(i);
    } else {
      state[i] = StageState::kFailed;
      std::string why;
      if (have_result && !result.error.empty()) why = result.error;
      else if (update.signal) why = "exec-stage was killed by " + describe_signal(update.signal);
      else if (!update.message.empty()) why = update.message;
      else why = "exec-stage exited with code " + std::to_string(update.exit_code);
      say("[" + name(i) + "] FAILED after " + seconds_text(took) + ": " + why + "\n    log: " +
          run_dir + "/log.txt");
      note_state(i, "failed", why);
      failed_once = true;
      block_downstream(i);
    }
  }

  static double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  void cancel_everything() {
    ++cancels_sent;
    say(cancels_sent == 1 ? "cadenza: interrupted; cancelling running stages "
                            "(press Ctrl-C again to kill them now)"
                          : "cadenza: killing running stages");
    for (size_t i = 0; i < state.size(); ++i)
      if (state[i] == StageState::kPending) state[i] = StageState::kBlocked;
    for (auto& [bname, slot] : backends)
      for (auto& [id, stage] : slot.jobs) slot.backend->cancel(id);
  }

  // Saves the lock and stat cache however run() ends, exceptions included.
  struct SaveAtExit {
    Impl& impl;
    ~SaveAtExit() {
      try {
        impl.cache.save();
      } catch (const std::exception& e) {
        impl.out << "cadenza: warning: could not save " << impl.cache.lock().path() << ": "
                 << e.what() << "\n";
      }
    }
  };

  int run() {
    SaveAtExit save_at_exit{*this};
    const size_t n = pw.size();
    state.assign(n, StageState::kNotSelected);
    started.assign(n, 0);
    job_of.assign(n, 0);
    size_t selected = 0;
    for (size_t i = 0; i < n; ++i)
      if (pw.selected(i)) {
        state[i] = StageState::kPending;
        ++selected;
      }
    fingerprints.assign(n, std::nullopt);
    run_root = pw.workflow().state_dir() + "/runs/" + run_id;
    fs::create_directories(run_root);
    {  // .cadenza/runs/latest -> <run id>, replaced atomically
      const std::string link = pw.workflow().state_dir() + "/runs/latest";
      const std::string tmp = link + ".tmp-" + unique_suffix();
      std::error_code ec;
      fs::create_symlink(run_id, tmp, ec);
      if (!ec) fs::rename(tmp, link, ec);
    }
    {
      std::vector<std::string> names;
      for (size_t i : pw.graph().order())
        if (pw.selected(i)) names.push_back(name(i));
      recorder = std::make_unique<RunRecorder>(run_root, run_id, pw.workflow().file, names);
    }
    cancel_sent.assign(n, false);
    say("cadenza: run " + run_id + ": " + std::to_string(selected) + " stage" +
        (selected == 1 ? "" : "s"));

    bool interrupted = false;
    while (true) {
      if (interrupt_count() > cancels_sent) {
        interrupted = true;
        cancel_everything();
      }
      // Waves: evaluate every stage whose deps are done (in parallel: on a
      // no-op this is all the work), act on them in order, repeat while
      // that made more stages ready.
      while (!interrupted && (!failed_once || options.keep_going)) {
        std::vector<size_t> ready;
        for (size_t i : pw.graph().order())
          if (state[i] == StageState::kPending && upstream_done(i)) ready.push_back(i);
        if (ready.empty()) break;
        std::vector<Evaluation> evaluations(ready.size());
        parallel_for(ready.size(), [&](size_t k) { evaluations[k] = evaluate(ready[k]); });
        for (size_t k = 0; k < ready.size(); ++k) start_stage(ready[k], {}, &evaluations[k]);
        if (failed_once && !options.keep_going) break;
        bool more = false;
        for (size_t i : pw.graph().order())
          more = more || (state[i] == StageState::kPending && upstream_done(i));
        if (!more) break;
      }
      if (!interrupted && (!failed_once || options.keep_going)) {
        for (size_t i : pw.graph().order()) {
          if (state[i] != StageState::kPending) continue;
          const std::string& backend = pw.stage(i).backend;
          std::vector<sdk::JobId> after;
          if (backends.count(backend) && backends.at(backend).backend->handles_dependencies() &&
              upstream_submitted_to(i, backend, &after))
            start_stage(i, after, nullptr);
        }
      }
      size_t active_backends = 0;
      for (auto& [bname, slot] : backends) active_backends += !slot.jobs.empty();
      if (active_backends == 0) break;
      handle_cancel_requests();
      show_progress();
      const int timeout_ms = active_backends == 1 ? 200 : 50;
      for (auto& [bname, slot] : backends) {
        if (slot.jobs.empty()) continue;
        for (const auto& update : slot.backend->wait(timeout_ms)) {
          auto it = slot.jobs.find(update.id);
          if (it == slot.jobs.end()) continue;
          const size_t i = it->second;
          if (update.state == sdk::JobState::kRunning) {
            state[i] = StageState::kRunning;
            started[i] = now();
            note_state(i, "running");
            say("[" + name(i) + "] started (" + pw.stage(i).plugin.name + ")");
          } else if (update.state != sdk::JobState::kQueued) {
            slot.jobs.erase(it);
            finish(i, update);
          }
        }
      }
    }
    return summarize(interrupted);
  }

  int summarize(bool interrupted) {
    const int code = summary_line(interrupted);
    if (recorder) recorder->finished(code);
    return code;
  }

  int summary_line(bool interrupted) {
    int ok = 0, failed = 0, cancelled = 0, not_run = 0;
    for (auto s : state) {
      ok += s == StageState::kSucceeded;
      failed += s == StageState::kFailed;
      cancelled += s == StageState::kCancelled;
      not_run += s == StageState::kBlocked || s == StageState::kPending;
    }
    ok -= up_to_date + restored;
    std::string line = "cadenza: " + std::to_string(ok) + " ran";
    if (up_to_date) line += ", " + std::to_string(up_to_date) + " up to date";
    if (restored) line += ", " + std::to_string(restored) + " restored from cache";
    if (failed) line += ", " + std::to_string(failed) + " failed";
    if (cancelled) line += ", " + std::to_string(cancelled) + " cancelled";
    if (not_run) line += ", " + std::to_string(not_run) + " not run";
    say(line);
    if (interrupted) return 130;
    return failed || cancelled || not_run ? 1 : 0;
  }
};

Orchestrator::Orchestrator(const PreparedWorkflow& workflow, RunOptions options,
                           std::ostream& out)
    : impl_(std::make_unique<Impl>(workflow, std::move(options), out)), run_id_(make_run_id()) {
  impl_->run_id = run_id_;
}

Orchestrator::~Orchestrator() = default;

int Orchestrator::run() { return impl_->run(); }

}  // namespace cadenza
