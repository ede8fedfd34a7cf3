// Watching and steering a run from another terminal: the live part of
// `status`, `logs [-f]` and `cancel`. They read what the orchestrator leaves
// under .cadenza/runs/ (run_record.h) and never load a plugin.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli_args.h"
#include "commands.h"
#include "error.h"
#include "fs_util.h"
#include "monitor.h"
#include "run_record.h"
#include "workflow_parser.h"

namespace cadenza {

using nlohmann::json;

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

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

RunStatus require_run(const std::string& workflow_path) {
  const std::string state = workflow_state_dir(workflow_path);
  auto run = read_run(state + "/runs");
  if (!run) throw Error("no run of " + workflow_path + " has started yet (nothing under " + state + "/runs)");
  return *run;
}

}  // namespace

json live_status_json(const RunStatus& run) {
  json stages = json::array();
  const double t = now_s();
  for (const auto& name : run.stages) {
    const StageStatus& st = run.state.at(name);
    json s = {{"stage", name}, {"state", st.state}};
    if (!st.error.empty()) s["error"] = st.error;
    if (st.state == "running") {
      s["elapsed_s"] = t - st.since;
      try {
        s["progress"] = json::parse(read_file(run.run_dir + "/" + name + "/progress.json"));
      } catch (const std::exception&) {
      }
    }
    const auto metrics = latest_scalars(run.run_dir + "/" + name + "/metrics.jsonl");
    if (!metrics.empty()) s["metrics"] = metrics;
    stages.push_back(std::move(s));
  }
  return {{"run_id", run.run_id},
          {"pid", run.pid},
          {"running", run.alive},
          {"finished", run.finished},
          {"exit_code", run.exit_code},
          {"elapsed_s", t - run.started},
          {"stages", stages}};
}

void print_live_status(const RunStatus& run) {
  const json j = live_status_json(run);
  std::cout << "run " << run.run_id << ": "
            << (run.alive ? "running for " + seconds(j["elapsed_s"]) + " (pid " + std::to_string(run.pid) + ")"
                : run.finished ? "finished with exit code " + std::to_string(run.exit_code)
                               : "stopped without finishing (the orchestrator is gone)")
            << "\n";
  size_t width = 0;
  for (const auto& s : j["stages"]) width = std::max(width, s["stage"].get<std::string>().size());
  for (const auto& s : j["stages"]) {
    const std::string name = s["stage"];
    std::string line = name + std::string(width + 2 - name.size(), ' ') + s["state"].get<std::string>();
    if (s.contains("elapsed_s")) line += " " + seconds(s["elapsed_s"]);
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
  }
  std::cout << std::flush;
}

int cmd_logs(const Args& args) {
  if (!args.empty() && (args[0] == "-h" || args[0] == "--help")) return print_help("logs"), 0;
  CliArgs cli("logs", args, {"--workflow"}, {"-f|--follow"});
  if (cli.positionals().size() != 1) throw Error("usage: cadenza logs [-f] <stage> [--workflow workflow.toml]");
  const std::string stage = cli.positionals()[0];
  const RunStatus run = require_run(cli.get("--workflow", "workflow.toml"));
  if (!run.state.count(stage)) {
    std::string known;
    for (const auto& s : run.stages) known += (known.empty() ? "" : ", ") + s;
    throw Error("stage '" + stage + "' is not part of run " + run.run_id + " (its stages: " + known + ")");
  }
  const std::string path = run.run_dir + "/" + stage + "/log.txt";
  std::ifstream in;
  char buf[65536];
  std::streamoff pos = 0;
  while (true) {
    in.open(path, std::ios::binary);
    if (in) {
      in.seekg(pos);
      while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        std::cout.write(buf, in.gcount());
        pos += in.gcount();
      }
      std::cout << std::flush;
      in.close();
      in.clear();
    }
    if (!cli.has("-f")) {
      if (pos == 0) std::cerr << "(no output from " << stage << " yet: " << run.state.at(stage).state << ")\n";
      return 0;
    }
    // Follow until the stage is done (or the run is over), then drain once more.
    auto now = read_run(fs::path(run.run_dir).parent_path().string(), run.run_id);
    const std::string st = now ? now->state.at(stage).state : "gone";
    const bool over = !now || !now->alive || (st != "waiting" && st != "submitted" && st != "running");
    if (over) {
      in.open(path, std::ios::binary);
      if (in) {
        in.seekg(pos);
        while (in.read(buf, sizeof buf) || in.gcount() > 0) std::cout.write(buf, in.gcount());
      }
      std::cout << std::flush;
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

int cmd_cancel(const Args& args) {
  if (!args.empty() && (args[0] == "-h" || args[0] == "--help")) return print_help("cancel"), 0;
  CliArgs cli("cancel", args, {"--workflow"}, {"--all"});
  if (cli.has("--all") == (cli.positionals().size() == 1) || cli.positionals().size() > 1)
    throw Error("usage: cadenza cancel <stage> | --all [--workflow workflow.toml]");
  const RunStatus run = require_run(cli.get("--workflow", "workflow.toml"));
  if (!run.alive) throw Error("run " + run.run_id + " is not running; nothing to cancel");
  if (cli.has("--all")) {
    if (::kill(run.pid, SIGINT) != 0) throw Error("cannot signal the orchestrator (pid " + std::to_string(run.pid) + ")");
    std::cout << "cancelling every running stage of run " << run.run_id << "\n";
    return 0;
  }
  const std::string stage = cli.positionals()[0];
  auto it = run.state.find(stage);
  if (it == run.state.end()) throw Error("stage '" + stage + "' is not part of run " + run.run_id);
  const std::string& st = it->second.state;
  if (st != "submitted" && st != "running")
    throw Error("stage '" + stage + "' is " + st + ", not running; nothing to cancel");
  write_file_atomic(run.run_dir + "/" + stage + "/cancel-requested", "", Durability::kRenameOnly);
  if (::kill(run.pid, SIGUSR1) != 0) throw Error("cannot signal the orchestrator (pid " + std::to_string(run.pid) + ")");
  // Wait (briefly) to report the outcome.
  for (int i = 0; i < 300; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto now = read_run(fs::path(run.run_dir).parent_path().string(), run.run_id);
    if (!now) break;
    const std::string& s = now->state.at(stage).state;
    if (s != "submitted" && s != "running") {
      std::cout << stage << ": " << s << "\n";
      return s == "cancelled" ? 0 : 1;
    }
  }
  std::cout << stage << ": cancel requested (still stopping)\n";
  return 0;
}

}  // namespace cadenza
