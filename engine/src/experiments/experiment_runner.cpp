#include "experiment_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>

#include "cadenza/sdk/outcome.h"
#include "error.h"
#include "experiment_tree.h"
#include "fs_util.h"
#include "joint_run.h"
#include "live_run.h"
#include "lock_file.h"
#include "metrics_recorder.h"
#include "run_cache.h"
#include "run_record.h"
#include "wall_clock.h"

extern char** environ;

namespace cadenza {

using nlohmann::json;

namespace {

ExperimentRecord start_record(const ExperimentPlan& plan, const std::string& run_id) {
  const Workflow& wf = plan.workflow->workflow();
  ExperimentRecord r;
  r.name = plan.name;
  r.workflow = wf.file;
  r.overrides = overrides_json(plan.variant);
  for (size_t i = 0; i < plan.workflow->size(); ++i)
    if (plan.workflow->selected(i)) r.params[wf.stages[i].name] = plan.workflow->stage(i).params;
  describe_git(wf.workspace, &r.git_commit, &r.git_dirty);
  r.started = wall_clock_s();
  r.run_id = run_id;
  return r;
}

// How each stage ended (run record), what it computed (lock -> run-cache
// entry, which keeps the metrics of restored stages too).
void finish_record(ExperimentRecord& r, const PreparedWorkflow& pw, int exit_code) {
  const Workflow& wf = pw.workflow();
  r.finished = wall_clock_s();
  r.status = exit_code == 0 ? "succeeded" : exit_code == 130 ? "cancelled" : "failed";
  const auto run = read_run(wf.state_dir() + "/runs", r.run_id);
  const LockFile lock(wf.lock_path());
  const RunCache runs(wf.cache_dir, wf.cache_shared);
  std::string first_failure;  // how the first stage that did not succeed ended (timed_out, out_of_memory, ...)
  std::map<std::string, json> metrics_of;  // stage -> its run-cache entry's metrics
  std::map<std::string, int> stages_with;  // tag -> how many stages emitted it
  for (size_t i = 0; i < pw.size(); ++i) {
    if (!pw.selected(i)) continue;
    const StageDecl& decl = wf.stages[i];
    json s = json::object();
    bool ended_unfinished = false;  // ran here and did not succeed: no run-cache entry of its own
    if (run && run->state.count(decl.name)) {
      const StageStatus& st = run->state.at(decl.name);
      if (st.state != "succeeded" && !st.attempts.empty() && !st.attempts.back().dir.empty()) {
        ended_unfinished = true;
        // What it reported before it stopped or failed: a stopped variant's
        // curve is the point of a stop rule.
        metrics_of[decl.name] = summarize_metrics(st.attempts.back().dir + "/metrics.jsonl");
        for (const auto& [tag, m] : metrics_of[decl.name].items()) ++stages_with[tag];
      }
      s["outcome"] = st.state;
      if (!st.reused.empty()) s["reused"] = st.reused;
      if (!st.error.empty()) s["error"] = st.error;
      if (st.error.rfind("stopped by rule", 0) == 0) r.status = "stopped";
      const auto outcome = sdk::parse_outcome(st.state);
      if (first_failure.empty() && outcome && *outcome != sdk::Outcome::kSucceeded && *outcome != sdk::Outcome::kNotRun)
        first_failure = st.state;
      if (!st.attempts.empty()) {
        s["backend"] = st.attempts.back().backend;
        s["job"] = st.attempts.back().handle;
      }
    }
    if (const LockEntry* e = lock.find(decl.name)) {
      s["key"] = e->key.hex();
      if (auto entry = ended_unfinished ? std::nullopt : runs.find(e->key)) {
        metrics_of[decl.name] = entry->metrics;
        for (const auto& [tag, m] : entry->metrics.items()) ++stages_with[tag];
      }
    }
    r.stages[decl.name] = s;
  }
  // The record says how the run ended as its stages did: a time limit is
  // "timed_out" here as it is in the run's events and TensorBoard, not a
  // plain "failed" read off the exit code.
  if (r.status == "failed" && !first_failure.empty() && first_failure != "cancelled") r.status = first_failure;
  // A tag that two stages emit (test/esr of export and export_nam) is named
  // "<stage>:<tag>" for both; the others keep their plain tag.
  for (const auto& [stage, metrics] : metrics_of)
    for (const auto& [tag, m] : metrics.items()) {
      const std::string name = stages_with[tag] > 1 ? stage + ":" + tag : tag;
      r.metrics[name] = m;
      r.metrics[name]["stage"] = stage;
    }
}

// `cadenza exp run --name <n> --set ...` for one plan, as a child.
std::vector<std::string> child_argv(const ExperimentPlan& plan, const RunOptions& options) {
  std::vector<std::string> argv{current_executable().string(), "exp", "run",
                                plan.workflow->workflow().file, "--name", plan.name};
  for (const auto& o : plan.variant) argv.push_back("--set=" + o.target + "=" + o.value.dump());
  if (options.jobs > 0) argv.push_back("-j" + std::to_string(options.jobs));
  if (options.force) argv.push_back("--force");
  if (options.explain) argv.push_back("--explain");
  if (options.keep_going) argv.push_back("--keep-going");
  for (const auto& s : options.stages) argv.insert(argv.end(), {"--stage", s});
  return argv;
}

struct Child {
  pid_t pid = -1;
  int fd = -1;
  std::string name, partial;
};

Child spawn_child(const ExperimentPlan& plan, const RunOptions& options) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw Error(std::string("cannot create a pipe: ") + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  std::vector<std::string> args = child_argv(plan, options);
  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  Child c;
  c.name = plan.name;
  const int rc = ::posix_spawn(&c.pid, cargs[0], &actions, nullptr, cargs.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    throw Error("cannot start " + args[0] + ": " + std::strerror(rc));
  }
  c.fd = fds[0];
  return c;
}

// Forwards what the child printed, line by line, under its name. False at EOF.
bool pump(Child& c, std::ostream& out) {
  char buf[8192];
  const ssize_t n = ::read(c.fd, buf, sizeof buf);
  if (n <= 0) {
    if (!c.partial.empty()) out << "[" << c.name << "] " << c.partial << "\n";
    return false;
  }
  c.partial.append(buf, static_cast<size_t>(n));
  size_t start = 0, nl;
  while ((nl = c.partial.find('\n', start)) != std::string::npos) {
    out << "[" << c.name << "] " << c.partial.substr(start, nl - start) << "\n";
    start = nl + 1;
  }
  c.partial.erase(0, start);
  out.flush();
  return true;
}

}  // namespace

std::vector<ExperimentPlan> plan_experiments(const std::string& workflow_path,
                                             const std::vector<Variant>& variants,
                                             const std::string& name,
                                             const std::vector<std::string>& only,
                                             const std::vector<std::string>& variant_names) {
  std::vector<ExperimentPlan> plans;
  std::map<std::string, size_t> seen;
  for (size_t k = 0; k < variants.size(); ++k) {
    const Variant& variant = variants[k];
    const std::string own = k < variant_names.size() ? variant_names[k] : variant_name(variant);
    ExperimentPlan plan;
    plan.variant = variant;
    plan.name = name.empty() ? own : variants.size() == 1 ? name : name + "-" + own;
    if (seen.count(plan.name))
      throw Error("two variants of the sweep are both named '" + plan.name +
                  "' (the same overrides twice?)");
    seen[plan.name] = plans.size();
    plan.workflow = load_experiment(workflow_path, plan.name, variant, only);
    const std::string root = experiments_root(plan.workflow->workflow().workspace);
    if (auto existing = load_experiment_record(root, plan.name);
        existing && existing->overrides != overrides_json(variant))
      throw Error("experiment '" + plan.name + "' exists with other overrides (" +
                  existing->overrides.dump() + "); choose another --name, or `cadenza exp remove " +
                  plan.name + "` first");
    plans.push_back(std::move(plan));
  }
  return plans;
}

std::unique_ptr<PreparedWorkflow> load_recorded_experiment(const std::string& workflow_path,
                                                           const std::string& name) {
  const std::string root = experiments_root(workflow_workspace_dir(workflow_path));
  auto record = load_experiment_record(root, name);
  if (!record) throw Error("no experiment '" + name + "' in " + root + " (`cadenza exp show` lists them)");
  Variant variant;
  for (const auto& [target, value] : record->overrides.items())
    variant.push_back({target, value, "experiment " + name + ": " + target});
  return load_experiment(workflow_path, name, variant);
}

// An experiment between its start and its end: its run lock held, its
// record written as started.
struct StartedExperiment {
  RunLock lock;
  ExperimentRecord record;
};

StartedExperiment start_experiment(const ExperimentPlan& plan, const std::string& run_id) {
  const Workflow& wf = plan.workflow->workflow();
  std::filesystem::create_directories(wf.state_dir());
  lay_out_experiment_tree(*plan.workflow);
  StartedExperiment s{take_run_lock(wf.file + " (experiment " + plan.name + ")", wf.state_dir(), run_id),
                      start_record(plan, run_id)};
  save_experiment(experiments_root(wf.workspace), s.record);
  return s;
}

void end_experiment(const ExperimentPlan& plan, ExperimentRecord& record, int code, std::ostream& out) {
  finish_record(record, *plan.workflow, code);
  save_experiment(experiments_root(plan.workflow->workflow().workspace), record);
  out << "cadenza: experiment " << plan.name << " " << record.status << "\n";
}

int run_experiment(const ExperimentPlan& plan, const RunOptions& options, std::ostream& out) {
  RunOptions o = options;
  o.workflow_path = plan.workflow->workflow().file;
  o.run_id = make_run_id();
  StartedExperiment started = start_experiment(plan, o.run_id);
  int code = 1;
  {
    Orchestrator orchestrator(*plan.workflow, o, out);
    code = orchestrator.run();
  }
  end_experiment(plan, started.record, code, out);
  return code;
}

// On a cluster: every experiment's stages planned together by this process
// (joint_run.h), so the variants of a stage go out as one job array.
int run_jointly(std::vector<ExperimentPlan>& plans, const RunOptions& options, std::ostream& out) {
  std::vector<JointRun::Member> members;
  for (const auto& plan : plans) members.push_back({plan.workflow.get(), plan.name});
  RunOptions o = options;
  o.workflow_path = plans.front().workflow->workflow().file;
  JointRun joint(members, o, out);
  std::vector<StartedExperiment> started;
  for (const auto& plan : plans) started.push_back(start_experiment(plan, joint.run_id()));
  const std::vector<int> codes = joint.run();
  int failed = 0;
  for (size_t k = 0; k < plans.size(); ++k) {
    end_experiment(plans[k], started[k].record, codes[k], out);
    failed += codes[k] != 0;
  }
  return interrupt_count() > 0 ? 130 : failed ? 1 : 0;
}

int run_sweep(std::vector<ExperimentPlan>& plans, const RunOptions& options, int parallel,
              std::ostream& out) {
  if (plans.size() > 1 && JointRun::suits(*plans.front().workflow)) {
    out << "cadenza: sweep of " << plans.size() << " experiments, planned together: a stage's variants go "
        << "out as one job array\n";
    return run_jointly(plans, options, out);
  }
  if (plans.size() > 1) out << "cadenza: sweep of " << plans.size() << " experiments, " << parallel << " at a time\n";
  int failed = 0;
  if (parallel <= 1 || plans.size() == 1) {
    for (const auto& plan : plans) {
      if (interrupt_count() > 0) return 130;
      failed += run_experiment(plan, options, out) != 0;
    }
    return interrupt_count() > 0 ? 130 : failed ? 1 : 0;
  }
  std::vector<Child> running;
  size_t next = 0;
  while (next < plans.size() || !running.empty()) {
    while (next < plans.size() && static_cast<int>(running.size()) < parallel && interrupt_count() == 0)
      running.push_back(spawn_child(plans[next++], options));
    if (running.empty()) break;
    std::vector<pollfd> fds;
    for (const auto& c : running) fds.push_back({c.fd, POLLIN, 0});
    ::poll(fds.data(), fds.size(), 500);  // Ctrl-C reaches the children too (one process group)
    for (size_t k = running.size(); k-- > 0;) {
      if (!fds[k].revents || pump(running[k], out)) continue;
      ::close(running[k].fd);
      int status = 0;
      while (::waitpid(running[k].pid, &status, 0) < 0 && errno == EINTR) {
      }
      failed += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
      running.erase(running.begin() + static_cast<long>(k));
    }
  }
  return interrupt_count() > 0 ? 130 : failed ? 1 : 0;
}

}  // namespace cadenza
