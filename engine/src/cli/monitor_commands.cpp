// Watching and steering a run from another terminal: the live part of
// `status`, `logs [-f]` and `cancel`. They read the run record under
// .cadenza/runs/ (run_record.h), from any directory and any host that sees
// the workspace, whether or not the run's driver is still alive. Only
// `cancel` of a run whose driver is gone loads backend plugins: to reach the
// jobs that outlived it.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "wall_clock.h"
#include "cli_args.h"
#include "commands.h"
#include "error.h"
#include "fs_util.h"
#include "backend_pool.h"
#include "outcome_resolver.h"
#include "monitor.h"
#include "prepared_workflow.h"
#include "run_record.h"
#include "workflow_parser.h"

namespace cadenza {

using nlohmann::json;

namespace {

// The last value of each scalar in a stage's metrics.jsonl (its last 64 KiB).
std::map<std::string, double> latest_scalars(const std::string& path) {
  std::map<std::string, double> out;
  std::ifstream in(path, std::ios::binary);
  if (!in) return out;
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(std::max<std::streamoff>(0, size - 65536));
  std::string line;
  if (size > 65536) std::getline(in, line);  // skip a partial first line
  while (std::getline(in, line)) {
    try {
      const json m = json::parse(line);
      if (m.at("type") == "scalar") out[m.at("tag")] = m.at("value");
    } catch (const std::exception&) {
    }
  }
  return out;
}

std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", s);
  return buf;
}

// The workspace's latest run, or experiment `exp`'s.
RunStatus require_run(const std::string& workflow_path, const std::string& exp = "") {
  const std::string state = exp.empty() ? workflow_state_dir(workflow_path)
                                        : workflow_state_dir(workflow_path) + "/exps/" + exp;
  auto run = read_run(state + "/runs");
  if (!run) throw Error("no run of " + workflow_path + " has started yet (nothing under " + state + "/runs)");
  return *run;
}

std::string driver_text(const RunStatus& run, double elapsed) {
  const ProcessIdentity& d = run.info.driver;
  const std::string where = "pid " + std::to_string(d.pid) + " on " + d.host;
  switch (run.driver) {
    case DriverState::kAlive:
      return "running for " + seconds(elapsed) + " (" + std::string(run.info.detached ? "detached driver, " : "driver ") + where + ")";
    case DriverState::kRemote:
      return "running for " + seconds(elapsed) + " (driver " + where + ", seen by its heartbeat)";
    case DriverState::kFinished:
      return "finished with exit code " + std::to_string(run.exit_code);
    case DriverState::kHandedOff:
      return "running for " + seconds(elapsed) + ", handed to its scheduler (no Cadenza process "
             "runs; job " + run.handed_off_to + " records the end)";
    case DriverState::kDead:
      break;
  }
  if (!run.superseded_by.empty()) return "taken over by run " + run.superseded_by + " (its driver, " + where + ", died)";
  return "its driver (" + where + ") died without finishing the run; `cadenza run` resumes it "
         "(it waits for stages still running and reuses what finished)";
}

}  // namespace

json live_status_json(const RunStatus& run) {
  json stages = json::array();
  const double t = wall_clock_s();
  for (const auto& name : run.info.stages) {
    const StageStatus& st = run.state.at(name);
    json s = {{"stage", name}, {"state", st.state}};
    if (!st.error.empty()) s["error"] = st.error;
    if (!st.reused.empty()) s["reused"] = st.reused;
    if (!st.waiting_for.empty()) s["waiting_for"] = st.waiting_for;
    json attempts = json::array();
    for (const auto& a : st.attempts) {
      json j = {{"attempt", a.attempt}, {"backend", a.backend}, {"handle", a.handle}};
      if (!a.node.empty()) j["node"] = a.node;
      if (a.outcome) j["outcome"] = std::string(sdk::outcome_name(*a.outcome));
      if (!a.error.empty()) j["error"] = a.error;
      if (!a.retry.empty()) j["retry"] = a.retry;
      if (a.started > 0) j["elapsed_s"] = (a.finished > 0 ? a.finished : t) - a.started;
      attempts.push_back(std::move(j));
    }
    if (!attempts.empty()) s["attempts"] = attempts;
    const std::string dir = st.attempts.empty() ? run.run_dir + "/" + name : st.attempts.back().dir;
    // Handed to the scheduler, nobody records progress: read it from the jobs' own files.
    if (run.driver == DriverState::kHandedOff && st.active() && !st.attempts.empty()) {
      if (auto result = read_job_result(dir)) s["state"] = std::string(sdk::outcome_name(result->outcome));
      else if (std::filesystem::exists(dir + "/exec.json")) s["state"] = "running";
    }
    if (st.state == "running" || st.state == "submitted") {
      if (st.state == "running") s["elapsed_s"] = t - st.since;
      // With the driver gone, say whether the stage's own process lives on.
      if (!run.alive() && run.driver != DriverState::kHandedOff)
        if (auto alive = attempt_process_alive(st.attempts.back())) s["process_alive"] = *alive;
      try {
        s["progress"] = json::parse(read_file(dir + "/progress.json"));
      } catch (const std::exception&) {
      }
    }
    const auto metrics = latest_scalars(dir + "/metrics.jsonl");
    if (!metrics.empty()) s["metrics"] = metrics;
    stages.push_back(std::move(s));
  }
  static const char* driver_names[] = {"alive", "remote", "handed_off", "dead", "finished"};
  return {{"run_id", run.run_id()},
          {"pid", run.info.driver.pid},
          {"host", run.info.driver.host},
          {"detached", run.info.detached},
          {"driver", driver_names[static_cast<int>(run.driver)]},
          {"running", run.alive()},
          {"finished", run.finished},
          {"exit_code", run.exit_code},
          {"elapsed_s", t - run.info.started},
          {"stages", stages}};
}

void print_live_status(const RunStatus& run) {
  const json j = live_status_json(run);
  std::cout << "run " << run.run_id() << ": " << driver_text(run, j["elapsed_s"]) << "\n";
  size_t width = 0;
  for (const auto& s : j["stages"]) width = std::max(width, s["stage"].get<std::string>().size());
  std::vector<std::string> orphans;
  for (const auto& s : j["stages"]) {
    const std::string name = s["stage"];
    std::string line = name + std::string(width + 2 - name.size(), ' ') + s["state"].get<std::string>();
    if (s.contains("reused")) line += " (" + s["reused"].get<std::string>() + ")";
    if (s.contains("elapsed_s")) line += " " + seconds(s["elapsed_s"]);
    if (s.contains("attempts") && s["attempts"].size() > 1)
      line += "  attempt " + std::to_string(s["attempts"].size());
    if (s.contains("process_alive")) {
      line += s["process_alive"].get<bool>() ? "  (still running without its driver)" : "  (its process is gone)";
      if (s["process_alive"].get<bool>()) orphans.push_back(name);
    }
    if (s.contains("progress")) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "  [%g/%g %s]", s["progress"].value("done", 0.0),
                    s["progress"].value("total", 0.0), s["progress"].value("unit", std::string()).c_str());
      line += buf;
    }
    if (s.contains("metrics"))
      for (const auto& [tag, v] : s["metrics"].items()) {
        char buf[64];
        std::snprintf(buf, sizeof buf, " %.4g", v.get<double>());
        line += "  " + tag + "=" + std::string(buf + 1);
      }
    if (s.contains("error")) line += ": " + s["error"].get<std::string>();
    std::cout << line << "\n";
    if (s.contains("attempts") && s["attempts"].size() > 1)
      for (const auto& a : s["attempts"])
        if (a.contains("outcome") && a.contains("retry"))
          std::cout << std::string(width + 2, ' ') << "attempt " << a["attempt"].get<int>() << ": "
                    << a["outcome"].get<std::string>()
                    << (a.contains("error") ? " (" + a["error"].get<std::string>() + ")" : "") << "; "
                    << a["retry"].get<std::string>() << "\n";
  }
  if (!orphans.empty()) {
    std::string list;
    for (const auto& o : orphans) list += (list.empty() ? "" : ", ") + o;
    std::cout << "still running: " << list << " (`cadenza cancel --all` stops them; `cadenza run` waits for them)\n";
  }
  std::cout << std::flush;
}

namespace {

// The log of the stage's latest attempt.
std::string log_path(const RunStatus& run, const std::string& stage) {
  const StageStatus& st = run.state.at(stage);
  return (st.attempts.empty() ? run.run_dir + "/" + stage : st.attempts.back().dir) + "/log.txt";
}

}  // namespace

int cmd_logs(const Args& args) {
  if (!args.empty() && (args[0] == "-h" || args[0] == "--help")) return print_help("logs"), 0;
  CliArgs cli("logs", args, {"--workflow", "--exp"}, {"-f|--follow"});
  if (cli.positionals().size() != 1) throw Error("usage: cadenza logs [-f] <stage> [--workflow workflow.toml]");
  const std::string stage = cli.positionals()[0];
  RunStatus run = require_run(cli.get("--workflow", "workflow.toml"), cli.get("--exp"));
  if (!run.state.count(stage)) {
    std::string known;
    for (const auto& s : run.info.stages) known += (known.empty() ? "" : ", ") + s;
    throw Error("stage '" + stage + "' is not part of run " + run.run_id() + " (its stages: " + known + ")");
  }
  std::string path = log_path(run, stage);
  std::ifstream in;
  char buf[65536];
  std::streamoff pos = 0;
  auto copy_new = [&] {
    in.open(path, std::ios::binary);
    if (in) {
      in.seekg(pos);
      while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        std::cout.write(buf, in.gcount());
        pos += in.gcount();
      }
      std::cout << std::flush;
    }
    in.close();
    in.clear();
  };
  while (true) {
    copy_new();
    if (!cli.has("-f")) {
      if (pos == 0) std::cerr << "(no output from " << stage << " yet: " << run.state.at(stage).state << ")\n";
      return 0;
    }
    // Follow until the stage is done (or nothing drives it any more), then drain once more.
    auto now = read_run(fs::path(run.run_dir).parent_path().string(), run.run_id());
    if (!now) return 0;
    const StageStatus& st = now->state.at(stage);
    const bool process_alive = !st.attempts.empty() && attempt_process_alive(st.attempts.back()).value_or(false);
    if (!st.active() || (!now->alive() && !process_alive)) return copy_new(), 0;
    if (log_path(*now, stage) != path) {  // a retry began: its log from the start
      copy_new();
      path = log_path(*now, stage);
      pos = 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

namespace {

// The run's driver is gone: reach the jobs it left through their backends.
int cancel_without_driver(const RunStatus& run, const std::vector<std::string>& stages) {
  auto pw = PreparedWorkflow::load(run.info.workflow);
  struct Quiet : sdk::BackendHost {
    void job_output(const sdk::JobHandle&, std::string_view) override {}
  } host;
  BackendPool pool(*pw, 0, host, plugin_backend_factory());
  int cancelled = 0;
  for (const auto& stage : stages) {
    const StageStatus& st = run.state.at(stage);
    if (!st.active() || st.attempts.empty() || st.attempts.back().handle.empty()) continue;
    const AttemptStatus& a = st.attempts.back();
    write_file_atomic(a.dir + "/cancel-requested", "", Durability::kRenameOnly);
    std::string error = pool.attach(a.backend, {a.handle});
    if (error.empty()) error = pool.cancel(a.backend, a.handle);
    if (!error.empty()) {
      std::cerr << "warning: " << stage << ": " << error << "\n";
      continue;
    }
    std::cout << stage << ": cancel sent to " << a.backend << " (" << a.handle << ")\n";
    ++cancelled;
  }
  // Wait (briefly) for the stopped jobs to be gone.
  for (int i = 0; i < 300 && pool.active_jobs() > 0; ++i) pool.wait(100);
  if (cancelled == 0) std::cout << "run " << run.run_id() << ": no stage was still running\n";
  // Nobody else will record the end: the driver is gone.
  const double t = wall_clock_s();
  for (const auto& stage : stages) {
    const StageStatus& st = run.state.at(stage);
    if (!st.active()) continue;
    const bool had_job = !st.attempts.empty();
    RunRecorder::append_to(run.run_dir, json{{"t", t}, {"event", "finished"}, {"stage", stage},
                                             {"attempt", had_job ? st.attempts.back().attempt : 0},
                                             {"outcome", had_job ? "cancelled" : "not_run"}}
                                            .dump());
  }
  if (stages.size() == run.info.stages.size())
    RunRecorder::append_to(run.run_dir, json{{"t", t}, {"event", "run_finished"}, {"exit_code", 130}}.dump());
  return 0;
}

void signal_driver(const RunStatus& run) {
  // Only a wake-up: the driver also sees the request files at its next poll,
  // which is all it gets when it runs on another host.
  const ProcessIdentity& d = run.info.driver;
  if (d.is_checkable() && d.alive()) ::kill(d.pid, SIGUSR1);
}

}  // namespace

int cmd_cancel(const Args& args) {
  if (!args.empty() && (args[0] == "-h" || args[0] == "--help")) return print_help("cancel"), 0;
  CliArgs cli("cancel", args, {"--workflow", "--exp"}, {"--all"});
  if (cli.has("--all") == (cli.positionals().size() == 1) || cli.positionals().size() > 1)
    throw Error("usage: cadenza cancel <stage> | --all [--workflow workflow.toml]");
  const RunStatus run = require_run(cli.get("--workflow", "workflow.toml"), cli.get("--exp"));
  if (run.finished || !run.superseded_by.empty())
    throw Error("run " + run.run_id() + " is not running; nothing to cancel");
  std::vector<std::string> stages = run.info.stages;
  if (!cli.has("--all")) {
    const std::string stage = cli.positionals()[0];
    auto it = run.state.find(stage);
    if (it == run.state.end()) throw Error("stage '" + stage + "' is not part of run " + run.run_id());
    const std::string& st = it->second.state;
    if (st != "submitted" && st != "running")
      throw Error("stage '" + stage + "' is " + st + ", not running; nothing to cancel");
    stages = {stage};
  }
  if (!run.alive()) return cancel_without_driver(run, stages);
  if (cli.has("--all")) {
    write_file_atomic(run.run_dir + "/cancel-all", "", Durability::kRenameOnly);
    signal_driver(run);
    std::cout << "cancelling every running stage of run " << run.run_id() << "\n";
    return 0;
  }
  const std::string& stage = stages[0];
  write_file_atomic(run.state.at(stage).attempts.back().dir + "/cancel-requested", "", Durability::kRenameOnly);
  signal_driver(run);
  // Wait (briefly) to report the outcome.
  for (int i = 0; i < 300; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto now = read_run(fs::path(run.run_dir).parent_path().string(), run.run_id());
    if (!now) break;
    const StageStatus& s = now->state.at(stage);
    if (s.state != "submitted" && s.state != "running") {
      std::cout << stage << ": " << s.state << "\n";
      return s.state == "cancelled" ? 0 : 1;
    }
  }
  std::cout << stage << ": cancel requested (still stopping)\n";
  return 0;
}

}  // namespace cadenza
