#include "orchestrator.h"

#include <poll.h>
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
#include <thread>

#include "error.h"
#include "experiment_sinks.h"
#include "fs_util.h"
#include "job_builder.h"
#include "outcome_resolver.h"
#include "parallel.h"
#include "promotion_guard.h"
#include "retry_policy.h"
#include "run_console.h"
#include "run_record.h"
#include "stage_run.h"
#include "submit_batch.h"
#include "wall_clock.h"
#include "workspace_cache.h"

namespace cadenza {

using nlohmann::json;

namespace {

std::atomic<int> g_interrupts{0};
std::atomic<bool> g_wakeup{false};
extern "C" void on_interrupt(int) { g_interrupts.fetch_add(1); }
extern "C" void on_wakeup(int) { g_wakeup.store(true); }

std::string seconds_text(double s) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(s < 10 ? 2 : 1) << s << "s";
  return out.str();
}

double steady_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

bool file_exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

std::string join(const std::vector<std::string>& parts) {
  std::string s;
  for (const auto& p : parts) s += (s.empty() ? "" : "; ") + p;
  return s;
}

std::string upper(std::string_view text) {
  std::string s(text);
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::string make_run_id() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  std::ostringstream s;
  // The pid tells processes apart; the call count, two ids of one process
  // in one second (a driver detaching at Ctrl-C names its successor's run).
  static std::atomic<unsigned> calls{0};
  s << std::put_time(&tm, "%Y%m%d-%H%M%S") << "-" << std::hex
    << ((static_cast<unsigned>(::getpid()) * 2654435761u + calls.fetch_add(1) * 40503u) & 0xffffu);
  return s.str();
}

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // `cadenza cancel` leaves request files and, on this host, sends SIGUSR1
  // so that they are seen at once rather than at the next poll.
  struct sigaction usr {};
  usr.sa_handler = on_wakeup;
  sigemptyset(&usr.sa_mask);
  sigaction(SIGUSR1, &usr, nullptr);
}

int interrupt_count() { return g_interrupts.load(); }

struct Orchestrator::Impl : public sdk::BackendHost {
  const PreparedWorkflow& pw;
  RunOptions options;
  std::string run_id;
  std::string run_root;
  std::vector<StageRun> runs;
  std::map<std::pair<std::string, sdk::JobHandle>, size_t> job_index;  // (backend, handle) -> stage
  std::map<sdk::JobHandle, size_t> output_index;  // handle -> stage, for job_output (per line)
  WorkspaceCache cache;
  std::unique_ptr<BackendPool> own_pool;  // null when driven with others (joint_run.h)
  BackendPool& pool;
  SubmitBatch* batch = nullptr;            // set when driven with others: submissions wait for it
  std::unique_ptr<RunRecorder> recorder;
  std::unique_ptr<ExperimentSinks> experiment_sinks;
  RunConsole console;
  std::ostream& out;
  bool failed_once = false;
  bool interrupted = false;
  bool cancel_all_seen = false;
  bool handed_off = false, hand_off_tried = false;
  int cancels_sent = 0;
  bool asked = false;

  Impl(const PreparedWorkflow& p, RunOptions o, std::ostream& os, BackendFactory factory)
      : pw(p), options(std::move(o)), cache(p.workflow()),
        own_pool(std::make_unique<BackendPool>(p, options.jobs, *this, std::move(factory))), pool(*own_pool),
        console(os, ::isatty(STDOUT_FILENO) == 1 && &os == &std::cout), out(os) {
    run_id = options.run_id.empty() ? make_run_id() : options.run_id;
  }

  Impl(const PreparedWorkflow& p, RunOptions o, std::ostream& os, BackendPool& shared, SubmitBatch& b)
      : pw(p), options(std::move(o)), cache(p.workflow()), pool(shared), batch(&b),
        console(os, false), out(os) {
    run_id = options.run_id.empty() ? make_run_id() : options.run_id;
  }

  const std::string& name(size_t i) const { return pw.workflow().stages[i].name; }
  void say(const std::string& line) { console.say(options.label.empty() ? line : "[" + options.label + "] " + line); }
  std::string runs_dir() const { return pw.workflow().state_dir() + "/runs"; }

  // A stage's output on the terminal, up to kConsoleEchoBytes per attempt:
  // a stage printing hundreds of megabytes must not flood it. Its log.txt
  // keeps everything.
  static constexpr size_t kConsoleEchoBytes = 1u << 20;
  void job_output(const sdk::JobHandle& handle, std::string_view line) override {
    auto it = output_index.find(handle);
    if (it == output_index.end()) return;
    StageRun& st = runs[it->second];
    if (st.echoed_bytes > kConsoleEchoBytes) return;
    st.echoed_bytes += line.size() + 1;
    if (st.echoed_bytes <= kConsoleEchoBytes) return say("[" + name(it->second) + "] " + std::string(line));
    say("[" + name(it->second) + "] (more than 1 MB of output: the rest is only in " + st.dir + "/log.txt)");
  }

  void show_progress() {
    std::vector<RunConsole::Running> running;
    for (size_t i = 0; i < runs.size(); ++i)
      if (runs[i].phase == Phase::kRunning) running.push_back({name(i), runs[i].dir + "/progress.json"});
    console.show_progress(running, steady_now());
  }

  // ---- the run record and the earlier run it may take over ----

  void open_record() {
    fs::create_directories(run_root);
    RunInfo info;
    info.run_id = run_id;
    info.workflow = pw.workflow().file;
    info.started = wall_clock_s();
    info.detached = options.detached;
    info.driver = ProcessIdentity::self();
    for (size_t i : pw.graph().order())
      if (pw.selected(i)) info.stages.push_back(name(i));
    recorder = std::make_unique<RunRecorder>(run_root, info);
    // .cadenza/runs/latest -> <run id>, replaced atomically
    const std::string link = runs_dir() + "/latest";
    const std::string tmp = link + ".tmp-" + unique_suffix();
    std::error_code ec;
    fs::create_symlink(run_id, tmp, ec);
    if (!ec) fs::rename(tmp, link, ec);
  }

  // An earlier run of this workspace whose driver died may have left jobs
  // running. Starting the same stages again would race them for the same
  // outputs, so those stages wait for the earlier jobs to end and are then
  // judged afresh: a job that succeeded is restored from the run-cache.
  void adopt_earlier_jobs(const std::optional<RunStatus>& previous) {
    if (!previous || previous->finished || previous->alive()) return;
    std::map<std::string, std::vector<std::pair<size_t, AttemptStatus>>> by_backend;
    for (size_t i = 0; i < runs.size(); ++i) {
      if (runs[i].phase != Phase::kPending) continue;
      auto it = previous->state.find(name(i));
      if (it == previous->state.end() || !it->second.active() || it->second.attempts.empty()) continue;
      const AttemptStatus& a = it->second.attempts.back();
      if (a.outcome || a.handle.empty() || !pw.backend_paths().count(a.backend)) continue;
      by_backend[a.backend].push_back({i, a});
    }
    for (const auto& [backend, jobs] : by_backend) {
      std::vector<sdk::JobHandle> handles;
      for (const auto& [i, a] : jobs) handles.push_back(a.handle);
      const std::string error = pool.attach(backend, handles);
      if (!error.empty()) {
        say("cadenza: warning: cannot follow the jobs of run " + previous->run_id() + " on " +
            backend + " (" + error + "); they may still be running");
        continue;
      }
      for (const auto& [i, a] : jobs) {
        runs[i].phase = Phase::kHeld;
        runs[i].handle = a.handle;
        runs[i].dir = a.dir;  // where a cancel request for it must go
        job_index[{backend, a.handle}] = i;
        output_index[a.handle] = i;
        recorder->waiting_for(name(i), a.handle, previous->run_id());
        say("[" + name(i) + "] waiting for its job of run " + previous->run_id() +
            " (" + a.handle + "), which outlived that run's driver");
      }
    }
    // Under the promotion lock: a job of that run that is about to put its
    // outputs in place either does so before this line or sees it.
    PromotionGuard guard(runs_dir());
    RunRecorder::append_to(previous->run_dir,
                           json{{"t", wall_clock_s()}, {"event", "superseded"}, {"by_run", run_id}}.dump());
  }

  // ---- planning: which stages can start ----

  bool upstream_succeeded(size_t i) const {
    for (size_t u : pw.graph().upstream(i))
      if (runs[u].phase != Phase::kNotSelected && !runs[u].succeeded()) return false;
    return true;
  }

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

  // Waves: evaluate every stage whose upstream succeeded (in parallel: on a
  // no-op this is all the work), act on them in order, repeat while that
  // made more stages ready.
  void start_ready_stages() {
    while (!interrupted && (!failed_once || options.keep_going)) {
      std::vector<size_t> ready;
      for (size_t i : pw.graph().order())
        if (runs[i].phase == Phase::kPending && upstream_succeeded(i)) ready.push_back(i);
      if (ready.empty()) return;
      std::vector<Evaluation> evaluations(ready.size());
      parallel_for(ready.size(), [&](size_t k) { evaluations[k] = evaluate(ready[k]); });
      for (size_t k = 0; k < ready.size(); ++k) {
        start_stage(ready[k], evaluations[k]);
        if (failed_once && !options.keep_going) return;
      }
    }
  }

  // For backends that hold jobs until their deps succeed (SLURM): a stage
  // whose upstream stages are all succeeded or submitted to the same backend
  // goes out now, held on them. exec-stage computes its key on the node.
  void submit_held_stages() {
    if (interrupted || (failed_once && !options.keep_going)) return;
    for (size_t i : pw.graph().order()) submit_if_holdable(i);
  }

  void submit_if_holdable(size_t i) {
    StageRun& st = runs[i];
    if (st.phase != Phase::kPending || !pool.handles_dependencies(st.backend)) return;
    std::vector<sdk::JobHandle> after;
    for (size_t u : pw.graph().upstream(i)) {
      const StageRun& up = runs[u];
      if (up.phase == Phase::kNotSelected || up.succeeded()) continue;
      const bool queued = up.phase == Phase::kSubmitted || up.phase == Phase::kRunning;
      if (!queued || up.backend != st.backend || up.handle.empty()) return;
      after.push_back(up.handle);
    }
    submit_or_fail(i, after);
  }

  // Driven with others (joint_run.h): stage i's turn in this pass, in the
  // workflow's order, so that its upstream stages' handles are known.
  void plan_stage(size_t i) {
    if (interrupted || (failed_once && !options.keep_going) || runs[i].phase != Phase::kPending) return;
    if (!upstream_succeeded(i)) return submit_if_holdable(i);
    Evaluation ev = evaluate(i);
    start_stage(i, ev);
  }

  void start_stage(size_t i, Evaluation& ev) {
    StageRun& st = runs[i];
    if (!ev.error.empty()) return end_stage(i, sdk::Outcome::kFailed, ev.error, "FAILED: " + ev.error);
    st.fingerprint = ev.fingerprint;
    if (!options.force && try_reuse(i, ev.reasons)) return;
    if (options.explain && !options.force) say("[" + name(i) + "] runs: " + join(ev.reasons));
    submit_or_fail(i, {});
  }

  // Up to date, or restored from the run-cache: the stage succeeds without a job.
  bool try_reuse(size_t i, const std::vector<std::string>& reasons) {
    StageRun& st = runs[i];
    const PreparedStage& ps = pw.stage(i);
    if (reasons.empty()) {
      if (options.explain) say("[" + name(i) + "] up to date");
      succeed_without_job(i, "up_to_date");
      return true;
    }
    auto record = cache.cached_run(st.fingerprint->key);
    if (!record) return false;
    try {
      cache.restore(ps, *record);
      cache.record(ps, *st.fingerprint, record->outs, /*restored=*/true);
      cache.save_lock_throttled(1.0);
    } catch (const Error& e) {
      say("[" + name(i) + "] cached outputs unusable (" + e.what() + "); running the stage");
      return false;
    }
    say("[" + name(i) + "] restored from cache (key " + st.fingerprint->key.hex().substr(0, 12) + ")" +
        (options.explain ? ": " + join(reasons) : ""));
    succeed_without_job(i, "restored");
    return true;
  }

  void succeed_without_job(size_t i, const std::string& reused) {
    runs[i].phase = Phase::kDone;
    runs[i].outcome = sdk::Outcome::kSucceeded;
    runs[i].reused = reused;
    recorder->finished(name(i), 0, sdk::Outcome::kSucceeded, "", reused);
  }

  // ---- submitting ----

  void submit_or_fail(size_t i, const std::vector<sdk::JobHandle>& after) {
    try {
      submit_attempt(i, after);
    } catch (const Error& e) {
      submission_failed(i, e.what());
    }
  }

  void submission_failed(size_t i, const std::string& error) {
    const std::string why = pw.stage(i).decl->pos.str() + ": stage '" + name(i) +
                            "' could not be submitted to " + runs[i].backend + ": " + error;
    end_stage(i, sdk::Outcome::kFailed, why, "FAILED: " + why);
  }

  // Alone, the job is queued now; driven with others, when the batch is
  // flushed (the stage is kSubmitted without a handle until then).
  void submit_attempt(size_t i, const std::vector<sdk::JobHandle>& after) {
    StageRun& st = runs[i];
    AttemptPlan plan;
    plan.attempt = st.attempt + 1;
    plan.resources = st.resources;
    plan.exclude_nodes = st.exclude_nodes;
    plan.after = after;
    plan.key_hex = st.fingerprint ? st.fingerprint->key.hex() : "";
    plan.reuse_cached = !options.force;
    if (st.fingerprint) plan.image_id = st.fingerprint->image_id;
    else if (pw.stage(i).decl->container) plan.image_id = cache.image_identity(*pw.stage(i).decl->container);
    const BuiltJob job = build_job(pw, i, run_root, run_id, plan);
    if (!batch) return queued(i, plan.attempt, job.dir, pool.submit(st.backend, job.request));
    st.phase = Phase::kSubmitted;
    st.handle.clear();
    batch->add(st.backend, job.request, [this, i, attempt = plan.attempt, dir = job.dir](
                                            const sdk::JobHandle& handle, const std::string& error) {
      if (!handle.empty()) return queued(i, attempt, dir, handle);
      runs[i].phase = Phase::kPending;  // as if never submitted
      submission_failed(i, error);
    });
  }

  void queued(size_t i, int attempt, const std::string& dir, const sdk::JobHandle& handle) {
    StageRun& st = runs[i];
    st.handle = handle;
    st.attempt = attempt;
    st.dir = dir;
    st.phase = Phase::kSubmitted;
    st.started = 0;
    st.cancel_sent = false;
    st.echoed_bytes = 0;
    job_index[{st.backend, st.handle}] = i;
    output_index[st.handle] = i;
    recorder->submitted(name(i), st.attempt, st.backend, st.handle, st.dir);
  }

  // ---- what the backends report ----

  void on_update(const BackendUpdate& bu) {
    auto it = job_index.find({bu.backend, bu.update.handle});
    if (it == job_index.end()) return;
    const size_t i = it->second;
    StageRun& st = runs[i];
    const sdk::JobUpdate& u = bu.update;
    if (u.state == sdk::JobState::kQueued) return;
    if (u.state == sdk::JobState::kRunning) {
      if (st.phase != Phase::kSubmitted) return;
      st.phase = Phase::kRunning;
      st.started = steady_now();
      recorder->running(name(i), st.attempt, u.node);
      say("[" + name(i) + "] started (" + pw.stage(i).plugin.name + ")" +
          (u.node.empty() ? "" : " on " + u.node) +
          (st.attempt > 1 ? ", attempt " + std::to_string(st.attempt) : ""));
      return;
    }
    job_index.erase(it);
    if (st.phase == Phase::kHeld) return release_held(i);
    finish_attempt(i, u);
  }

  void release_held(size_t i) {
    StageRun& st = runs[i];
    st.phase = interrupted ? Phase::kDone : Phase::kPending;
    st.handle.clear();
    st.dir.clear();
    say("[" + name(i) + "] the earlier run's job ended" +
        std::string(interrupted ? "" : "; checking whether it left the outputs this run needs"));
  }

  void finish_attempt(size_t i, const sdk::JobUpdate& update) {
    StageRun& st = runs[i];
    const std::optional<JobResult> result = read_job_result(st.dir);
    AttemptOutcome ao = resolve_outcome(update, result, st.user_cancel);
    // A job this run cancelled because an upstream stage failed, before it started.
    if (ao.outcome == sdk::Outcome::kCancelled && st.cancel_sent && !st.user_cancel && st.started == 0)
      ao = {sdk::Outcome::kNotRun, ao.message};
    const double took = result ? result->finished_at - result->started_at
                               : (st.started > 0 ? steady_now() - st.started : 0);
    if (ao.outcome == sdk::Outcome::kSucceeded) return succeed(i, *result, took);
    if (ao.outcome == sdk::Outcome::kNotRun && !st.user_cancel && upstream_unsettled(i)) {
      // Held on an upstream job that is being retried: submit again after it.
      recorder->finished(name(i), st.attempt, ao.outcome, ao.message, "", "held again on the retried upstream stage");
      st.phase = Phase::kPending;
      return;
    }
    RetryDecision retry;
    if (!interrupted && !st.user_cancel)
      retry = decide_retry(ao.outcome, update.node, st.resources, pw.workflow().retry_for(*pw.stage(i).decl),
                           st.budget);
    recorder->finished(name(i), st.attempt, ao.outcome, ao.message, "", retry.retry ? retry.note : "");
    const std::string headline = describe_end(i, ao, took);
    if (!retry.retry) return end_stage(i, ao.outcome, ao.message, headline);
    say("[" + name(i) + "] " + headline + "\n    " + retry.note);
    st.budget.retries_used += retry.uses_a_retry ? 1 : 0;
    st.budget.preemptions += retry.uses_a_retry ? 0 : 1;
    st.resources = retry.resources;
    if (!retry.exclude_node.empty()) st.exclude_nodes.push_back(retry.exclude_node);
    cancel_held_dependents(i, "its upstream stage '" + name(i) + "' is being retried");
    submit_or_fail(i, {});
  }

  // True while some upstream stage may still succeed.
  bool upstream_unsettled(size_t i) const {
    for (size_t u : pw.graph().upstream(i))
      if (runs[u].phase != Phase::kNotSelected && runs[u].phase != Phase::kDone) return true;
    return false;
  }

  std::string describe_end(size_t i, const AttemptOutcome& ao, double took) const {
    const StageRun& st = runs[i];
    if (ao.outcome == sdk::Outcome::kCancelled)  // by the user, or by its stop rule (the message)
      return "cancelled after " + seconds_text(took) + (ao.message.empty() ? "" : ": " + ao.message);
    if (ao.outcome == sdk::Outcome::kNotRun)
      return "not run" + std::string(ao.message.empty() ? "" : ": " + ao.message);
    std::string line = upper(sdk::outcome_text(ao.outcome)) + " after " + seconds_text(took);
    if (ao.outcome == sdk::Outcome::kTimedOut && st.resources.time_limit_s > 0)
      line += " (limit " + std::to_string(st.resources.time_limit_s) + " s)";
    if (!ao.message.empty()) line += ": " + ao.message;
    return line + "\n    log: " + st.dir + "/log.txt";
  }

  void succeed(size_t i, const JobResult& result, double took) {
    StageRun& st = runs[i];
    st.phase = Phase::kDone;
    st.outcome = sdk::Outcome::kSucceeded;
    st.reused = result.restored ? "restored" : "";
    recorder->finished(name(i), st.attempt, sdk::Outcome::kSucceeded, "", st.reused);
    if (result.restored) {
      say("[" + name(i) + "] restored from cache by exec-stage");
    } else {
      char peak[48] = "";
      if (result.peak_rss_mb > 0) std::snprintf(peak, sizeof peak, ", peak memory %.0f MB", result.peak_rss_mb);
      say("[" + name(i) + "] done in " + seconds_text(took) + peak);
    }
    try {
      if (!st.fingerprint) st.fingerprint = cache.fingerprint(pw.stage(i));
      cache.record(pw.stage(i), *st.fingerprint, result.outs, result.restored);
      cache.save_lock_throttled(1.0);
    } catch (const Error& e) {
      say("[" + name(i) + "] warning: could not update " + cache.lock().path() + ": " + e.what());
    }
  }

  // The stage is over without success (or before it started): what needs
  // it cannot run.
  void end_stage(size_t i, sdk::Outcome outcome, const std::string& message, const std::string& headline) {
    StageRun& st = runs[i];
    const bool had_job = st.attempt > 0;
    st.phase = Phase::kDone;
    st.outcome = outcome;
    if (!had_job) recorder->finished(name(i), 0, outcome, message);
    say("[" + name(i) + "] " + headline);
    if (outcome != sdk::Outcome::kCancelled && outcome != sdk::Outcome::kNotRun) failed_once = true;
    not_run_downstream(i, "upstream stage '" + name(i) + "' " + std::string(sdk::outcome_text(outcome)));
  }

  // Pending dependents end at once; dependents a backend already holds are
  // cancelled through it and end when it reports them not run.
  void not_run_downstream(size_t i, const std::string& why) {
    for (size_t d : pw.graph().downstream(i)) {
      StageRun& ds = runs[d];
      if (ds.phase == Phase::kPending) {
        ds.phase = Phase::kDone;
        ds.outcome = sdk::Outcome::kNotRun;
        recorder->finished(name(d), 0, sdk::Outcome::kNotRun, why);
        not_run_downstream(d, why);
      } else if (ds.phase == Phase::kSubmitted && !ds.cancel_sent) {
        cancel_job(d);
        not_run_downstream(d, why);
      }
    }
  }

  void cancel_held_dependents(size_t i, const std::string& why) {
    for (size_t d : pw.graph().downstream(i))
      if (runs[d].phase == Phase::kSubmitted && !runs[d].cancel_sent) {
        cancel_job(d);
        cancel_held_dependents(d, why);
      }
  }

  void cancel_job(size_t i) {
    StageRun& st = runs[i];
    st.cancel_sent = true;
    if (st.handle.empty()) return;  // not queued yet (a batch being flushed)
    const std::string error = pool.cancel(st.backend, st.handle);
    if (!error.empty()) say("[" + name(i) + "] warning: " + st.backend + " could not cancel it: " + error);
  }

  // ---- cancelling ----

  void user_cancel(size_t i) {
    StageRun& st = runs[i];
    st.user_cancel = true;
    if (!st.dir.empty())  // tells exec-stage that the SIGTERM is the user's
      try {
        write_file_atomic(st.dir + "/cancel-requested", "", Durability::kRenameOnly);
      } catch (const Error&) {
      }
    cancel_job(i);
  }

  // Requests left by `cadenza cancel` from any shell on any host.
  void handle_cancel_requests() {
    g_wakeup.store(false);
    if (!cancel_all_seen && file_exists(run_root + "/cancel-all")) {
      cancel_all_seen = true;
      cancel_everything("cancel --all requested; cancelling every stage");
      return;
    }
    for (size_t i = 0; i < runs.size(); ++i) {
      StageRun& st = runs[i];
      if ((st.phase != Phase::kSubmitted && st.phase != Phase::kRunning) || st.user_cancel) continue;
      if (!file_exists(st.dir + "/cancel-requested")) continue;
      say("[" + name(i) + "] cancel requested");
      user_cancel(i);
    }
  }

  void cancel_everything(const std::string& why) {
    ++cancels_sent;
    interrupted = true;
    say(why);
    for (size_t i = 0; i < runs.size(); ++i) {
      StageRun& st = runs[i];
      if (st.phase == Phase::kPending) {
        st.phase = Phase::kDone;
        st.outcome = sdk::Outcome::kNotRun;
        recorder->finished(name(i), 0, sdk::Outcome::kNotRun, "the run was cancelled");
      } else if (st.active()) {
        user_cancel(i);  // a second time escalates (SIGKILL locally)
      }
    }
  }

  // ---- handing the run to the scheduler (run --detach on SLURM) ----

  // A detached run whose stages all go to one backend that holds
  // dependencies needs no process of ours once everything is submitted:
  // one last job, held until every other job ended (afterany), runs
  // `cadenza finish-run` to record how they ended and update the lock.
  std::string hand_off_backend() {
    if (!options.detached) return "";
    std::string backend;
    for (const auto& st : runs) {
      if (st.phase == Phase::kNotSelected || st.phase == Phase::kDone) continue;
      if (st.phase != Phase::kSubmitted && st.phase != Phase::kRunning) return "";  // not all out yet
      if (!backend.empty() && st.backend != backend) return "";
      backend = st.backend;
    }
    return backend.empty() || !pool.handles_dependencies(backend) ? "" : backend;
  }

  bool try_hand_off() {
    const std::string backend = hand_off_backend();
    if (backend.empty() || interrupted || failed_once || hand_off_tried) return false;
    hand_off_tried = true;  // once: a refusal keeps the driver, not a loop of warnings
    sdk::JobRequest finish;
    finish.name = "cadenza-finish";
    finish.argv = {current_executable().string(), "finish-run", run_root};
    finish.workdir = pw.workflow().workspace;
    finish.run_dir = run_root + "/finish";
    finish.log_path = finish.run_dir + "/log.txt";
    finish.run_id = run_id;
    finish.backend_config_json = "{}";
    for (const auto& st : runs)
      if (st.phase == Phase::kSubmitted || st.phase == Phase::kRunning) finish.after_any.push_back(st.handle);
    try {
      fs::create_directories(finish.run_dir);
      const sdk::JobHandle handle = pool.submit(backend, finish);
      recorder->handed_off(backend, handle);
      say("cadenza: every stage is queued on " + backend + "; job " + handle +
          " records the end. Nothing of Cadenza keeps running.");
      handed_off = true;
    } catch (const std::exception& e) {
      say("cadenza: warning: cannot hand the run to " + backend + " (" + e.what() + "); the driver stays");
    }
    return handed_off;
  }

  // ---- Ctrl-C on a terminal: cancel, or leave it running? ----

  // Asks once; anything but "d" (or no answer within 30 s) cancels.
  bool wants_detach() {
    asked = true;
    say("cadenza: interrupted. Cancel the run, or detach and leave it running in the background? "
        "[c]ancel / [d]etach (Enter: cancel; Ctrl-C again: cancel now)");
    pollfd in{STDIN_FILENO, POLLIN, 0};
    const int before = interrupt_count();
    for (int waited = 0; waited < 30000 && interrupt_count() == before; waited += 100) {
      if (::poll(&in, 1, 100) <= 0) continue;
      char answer[64] = {};
      const ssize_t n = ::read(STDIN_FILENO, answer, sizeof answer - 1);
      return n > 0 && (answer[0] == 'd' || answer[0] == 'D');
    }
    return false;
  }

  // ---- the run ----

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

  void begin() {
    runs.assign(pw.size(), StageRun{});
    size_t selected = 0;
    for (size_t i = 0; i < pw.size(); ++i) {
      if (!pw.selected(i)) continue;
      runs[i].phase = Phase::kPending;
      runs[i].backend = pw.stage(i).backend;
      runs[i].resources = declared_resources(*pw.stage(i).decl);
      ++selected;
    }
    run_root = runs_dir() + "/" + run_id;
    std::optional<RunStatus> previous = read_run(runs_dir());
    open_record();
    // The driver that detached to us exits once our record exists: wait for
    // it, so that its live jobs are adopted rather than started again.
    for (int k = 0; k < 300 && previous && previous->detaching && previous->alive(); ++k) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      previous = read_run(runs_dir(), previous->run_id());
    }
    say("cadenza: run " + run_id + ": " + std::to_string(selected) + " stage" + (selected == 1 ? "" : "s"));
    experiment_sinks = std::make_unique<ExperimentSinks>(pw, run_id, out);
    experiment_sinks->begin();
    adopt_earlier_jobs(previous);
  }

  // Ctrl-C, SIGTERM and `cadenza cancel` requests. True when the user chose
  // to detach at the Ctrl-C question.
  bool react_to_requests() {
    if (interrupt_count() > cancels_sent && options.ask_on_interrupt && !asked && wants_detach()) {
      recorder->detaching();
      return true;
    }
    if (interrupt_count() > cancels_sent)
      cancel_everything(cancels_sent == 0 ? "cadenza: interrupted; cancelling running stages "
                                            "(press Ctrl-C again to kill them now)"
                                          : "cadenza: killing running stages");
    handle_cancel_requests();
    return false;
  }

  int run() {
    SaveAtExit save_at_exit{*this};
    begin();
    while (true) {
      if (react_to_requests()) return kRunDetachRequested;  // the jobs keep running; nothing is cancelled
      start_ready_stages();
      submit_held_stages();
      if (pool.active_jobs() == 0) break;
      if (try_hand_off()) return 0;
      show_progress();
      recorder->heartbeat();
      for (const auto& update : pool.wait(200)) on_update(update);
      for (const auto& error : pool.take_errors()) say("cadenza: " + error);
    }
    return finish();
  }

  int finish() {
    for (size_t i = 0; i < runs.size(); ++i)
      if (runs[i].phase == Phase::kPending)
        recorder->finished(name(i), 0, sdk::Outcome::kNotRun,
                           "not started after an earlier failure (-k keeps independent stages going)");
    const RunSummary summary = summarize(runs, interrupted);
    say(summary.line);
    end_experiment();
    recorder->run_finished(summary.exit_code);
    return summary.exit_code;
  }

  // The sinks' experiment record: the run's outcome, and what the metrics
  // of every stage that succeeded came to (restored ones included).
  void end_experiment() {
    std::vector<sdk::Outcome> outcomes;
    std::vector<StageMetrics> stages;
    for (size_t i = 0; i < runs.size(); ++i) {
      const StageRun& st = runs[i];
      if (st.phase == Phase::kNotSelected) continue;
      outcomes.push_back(st.phase == Phase::kDone ? st.outcome : sdk::Outcome::kNotRun);
      if (!st.succeeded()) continue;
      StageMetrics m{name(i), !st.reused.empty(), st.reused == "up_to_date"};
      if (st.fingerprint)
        if (auto record = cache.cached_run(st.fingerprint->key)) m.metrics = record->metrics;
      stages.push_back(std::move(m));
    }
    experiment_sinks->end(run_outcome(outcomes), stages);
  }
};

Orchestrator::Orchestrator(const PreparedWorkflow& workflow, RunOptions options, std::ostream& out,
                           BackendFactory backends)
    : impl_(std::make_unique<Impl>(workflow, std::move(options), out, std::move(backends))) {}

Orchestrator::~Orchestrator() = default;

int Orchestrator::run() { return impl_->run(); }

Orchestrator::Orchestrator(const PreparedWorkflow& workflow, RunOptions options, std::ostream& out,
                           BackendPool& pool, SubmitBatch& batch)
    : impl_(std::make_unique<Impl>(workflow, std::move(options), out, pool, batch)) {}

void Orchestrator::begin() { impl_->begin(); }
void Orchestrator::react_to_requests() { impl_->react_to_requests(); }
void Orchestrator::plan_stage(size_t stage) { impl_->plan_stage(stage); }
void Orchestrator::on_update(const BackendUpdate& update) { impl_->on_update(update); }
void Orchestrator::job_output(const sdk::JobHandle& handle, std::string_view line) {
  impl_->job_output(handle, line);
}
void Orchestrator::heartbeat() { impl_->recorder->heartbeat(); }
size_t Orchestrator::live_jobs() const { return impl_->job_index.size(); }

int Orchestrator::finish() {
  Impl::SaveAtExit save{*impl_};
  return impl_->finish();
}

const std::string& Orchestrator::run_id() const { return impl_->run_id; }

}  // namespace cadenza
