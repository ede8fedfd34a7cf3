// `cadenza sync`: mirrors a remote workspace's TensorBoard logs, run records
// and experiment records into a local directory, once or every N seconds,
// so that a TensorBoard, `cadenza exp show` and `cadenza status` on the
// laptop show what the cluster is doing.
//
// Two rsync passes per round over one ssh connection (ssh_remote.h):
//   1. files that grow — the logdirs' event files, the run records' event
//      logs and stage logs — with --inplace: only the new bytes cross the
//      network and they are appended to the file TensorBoard has open. A
//      file replaced by rename instead (the tools' usual way) is one that
//      TensorBoard keeps reading at the old inode and never sees grow.
//   2. everything else (workflow file, lock, run.json, result.json,
//      experiment records) the usual way: a temporary name, then a rename.
// Files the remote deleted (a stage's old events when it reruns) go too.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "cadenza/sdk/units.h"
#include "cli_args.h"
#include "commands.h"
#include "error.h"
#include "fs_util.h"
#include "remote.h"
#include "ssh_remote.h"
#include "wall_clock.h"
#include "workflow_parser.h"

namespace cadenza {

namespace fs = std::filesystem;

namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) { g_stop.store(true); }

double parse_period_s(const std::string& text) {
  const auto seconds = sdk::parse_duration(text);  // the one duration format (sdk/units.h)
  if (!seconds || *seconds < 0.1 || *seconds > 86400)
    throw Error("cadenza sync: --every '" + text + "' is not a period between 0.1s and 24h (e.g. 10s, 2m, 1.5h)");
  return *seconds;
}

// Files that only grow, in the run records (everything in a logdir grows or
// is rewritten in place by its sink).
const std::vector<std::string> kGrowing = {"*.jsonl", "log.txt", "driver.log"};
// Not worth a byte on the laptop: an experiment's working tree (its
// outputs: pull them), stat caches, and flock files.
const std::vector<std::string> kSkipped = {"--exclude=/.cadenza/exps/*/ws/", "--exclude=statcache",
                                           "--exclude=run.lock", "--exclude=promote.lock",
                                           "--exclude=.cadenza-hparams.lock"};

class Mirror {
 public:
  Mirror(RemoteAddress address, std::string local, std::string workflow_name)
      : session_(std::move(address)), local_(std::move(local)), workflow_(std::move(workflow_name)) {}

  // One round; returns the number of files that changed.
  int round() {
    const std::string ws = remote_workspace();
    fs::create_directories(local_);
    // The workflow file first: it names the sinks' logdirs.
    int changed = rsync_pass({ws + "/./" + workflow_}, {}, false);
    const std::vector<std::string> present = session_.existing(ws, candidates());
    std::vector<std::string> logdirs, records;
    for (const auto& rel : present) (is_logdir(rel) ? logdirs : records).push_back(rel);
    std::vector<std::string> growing_sources, pass1_filters = kSkipped, rest_sources, rest_filters = kSkipped;
    for (const auto& rel : logdirs) {
      growing_sources.push_back(ws + "/./" + rel);
      pass1_filters.push_back("--include=/" + rel + "/***");
    }
    for (const auto& rel : records) {
      if (rel.rfind(".cadenza/", 0) == 0) growing_sources.push_back(ws + "/./" + rel);
      rest_sources.push_back(ws + "/./" + rel);
    }
    pass1_filters.push_back("--include=*/");
    for (const auto& g : kGrowing) {
      pass1_filters.push_back("--include=" + g);
      rest_filters.push_back("--exclude=" + g);
    }
    pass1_filters.push_back("--exclude=*");
    changed += rsync_pass(growing_sources, pass1_filters, true);
    changed += rsync_pass(rest_sources, rest_filters, false);
    write_file_atomic(local_ + "/.cadenza/mirror.json",
                      nlohmann::json{{"remote", describe()}, {"synced_at", wall_clock_s()}}.dump() + "\n",
                      Durability::kRenameOnly);
    return changed;
  }

  std::string describe() const { return session_.address().display(); }

 private:
  // The remote workspace's absolute path, checked once.
  std::string remote_workspace() {
    if (!workspace_.empty()) return workspace_;
    const std::string p = session_.quoted_path();
    const auto r = session_.run("cd " + p + " 2>/dev/null || exit 3; [ -f " + shell_quote(workflow_) +
                                " ] || exit 4; command -v rsync >/dev/null 2>&1 || exit 5; pwd -P");
    const std::string& host = session_.address().host;
    if (r.exit_code == 3) throw Error("cadenza sync: " + session_.address().path + " does not exist on " + host);
    if (r.exit_code == 4)
      throw Error("cadenza sync: " + describe() + " is not a Cadenza workspace (no " + workflow_ +
                  " in it); give the directory that holds the workflow file, or --workflow NAME");
    if (r.exit_code == 5) throw Error("cadenza sync: rsync is not installed on " + host + " (Debian: apt install rsync)");
    if (r.exit_code != 0) throw Error("cadenza sync: the check on " + host + " failed: " + r.err);
    workspace_ = r.out.substr(0, r.out.find('\n'));
    return workspace_;
  }

  // What to mirror: the lock, run and experiment records, and each sink's
  // logdir inside the workspace (default logs/).
  std::vector<std::string> candidates() {
    std::vector<std::string> c = {fs::path(workflow_).replace_extension(".lock").string(), ".cadenza/runs",
                                  ".cadenza/exps", "logs"};
    logdirs_ = {"logs"};
    try {
      const Workflow wf = parse_workflow_file(local_ + "/" + workflow_);
      for (const auto& [sink, config] : wf.sink_configs)
        if (config.contains("logdir") && config["logdir"].is_string()) {
          const std::string dir = fs::path(config["logdir"].get<std::string>()).lexically_normal().string();
          if (dir.empty() || dir[0] == '/' || dir.rfind("..", 0) == 0) continue;  // outside the workspace
          if (logdirs_.insert(dir).second) c.push_back(dir);
        }
    } catch (const Error& e) {
      std::cerr << "cadenza sync: warning: " << e.what() << " (mirroring logs/ only)\n";
    }
    return c;
  }

  bool is_logdir(const std::string& rel) const { return logdirs_.count(rel) > 0; }

  int rsync_pass(const std::vector<std::string>& sources, const std::vector<std::string>& filters, bool in_place) {
    if (sources.empty()) return 0;
    std::vector<std::string> args{"-a", "--relative", "--delete", "--out-format=%n"};
    if (in_place) args.push_back("--inplace");
    args.insert(args.end(), filters.begin(), filters.end());
    args.push_back(session_.rsync_spec(sources[0]));
    for (size_t i = 1; i < sources.size(); ++i) args.push_back(":" + sources[i]);
    args.push_back(local_ + "/");
    return static_cast<int>(session_.rsync_files(args).size());
  }

  SshSession session_;
  std::string local_, workflow_, workspace_;
  std::set<std::string> logdirs_;
};

}  // namespace

int cmd_sync(const Args& args) {
  if (args.size() == 1 && (args[0] == "-h" || args[0] == "--help")) return print_help("sync"), 0;
  CliArgs cli("sync", args, {"--every", "--workflow"}, {});
  const std::string usage = "cadenza sync <[user@]host:workspace | ssh://host/workspace> <local dir> [--every 10s]";
  cli.expect_at_most(2, usage);
  if (cli.positionals().size() != 2) throw Error("usage: " + usage);
  const RemoteAddress address = parse_remote_address(cli.positionals()[0], fs::current_path().string());
  if (address.kind != RemoteAddress::Kind::kSsh)
    throw Error("cadenza sync: '" + cli.positionals()[0] + "' is not an ssh address (" + usage + ")");
  const std::string local = fs::absolute(cli.positionals()[1]).lexically_normal().string();
  const double period = cli.has("--every") ? parse_period_s(cli.get("--every")) : 0;
  Mirror mirror(address, local, cli.get("--workflow", "workflow.toml"));
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  bool first = true;
  do {
    const double started = wall_clock_s();
    try {
      const int changed = mirror.round();
      std::cout << "sync " << mirror.describe() << " -> " << local << ": " << changed << " files updated\n" << std::flush;
    } catch (const Error& e) {
      // The first round's errors are the user's to fix; later ones are the
      // network's (a laptop on a train): say so and try again next period.
      if (first || period == 0) throw;
      std::cerr << "cadenza sync: " << e.what() << "; trying again in " << period << " s\n";
    }
    first = false;
    while (period > 0 && !g_stop.load() && wall_clock_s() - started < period)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (period > 0 && !g_stop.load());
  return 0;
}

}  // namespace cadenza
