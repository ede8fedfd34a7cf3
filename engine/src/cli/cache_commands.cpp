// The cache's subcommands: status, checkout, gc, push, pull, cache verify.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <ctime>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "cache_refs.h"
#include "cadenza/sdk/units.h"
#include "cli_args.h"
#include "experiment_runner.h"
#include "commands.h"
#include "error.h"
#include "fs_util.h"
#include "prepared_workflow.h"
#include "monitor.h"
#include "parallel.h"
#include "run_record.h"
#include "workflow_parser.h"
#include "remote.h"
#include "wall_clock.h"
#include "workspace_cache.h"

namespace cadenza {

using nlohmann::json;

// Object paths (relative to objects/) that an output needs.
void add_refs(const ContentStore& store, const StoredOutput& out, std::set<std::string>* refs) {
  const std::string hex = out.hash.hex();
  if (!out.is_dir) {
    refs->insert(hex.substr(0, 2) + "/" + hex.substr(2));
    return;
  }
  refs->insert(hex.substr(0, 2) + "/" + hex.substr(2) + ".dir");
  try {
    for (const auto& e : store.read_manifest(out.hash)) add_refs(store, {e.hash, e.size, false}, refs);
  } catch (const Error&) {
  }
}

StoredOutput stored(const LockedPath& p) { return {p.hash, p.size, p.is_dir}; }

namespace {

void forget_seal(const ContentStore& store, const std::string& rel) {
  if (auto hash = ContentStore::hash_of_object(rel)) store.seals().forget(*hash);
}

std::string workflow_arg(const CliArgs& cli) {
  return cli.positionals().empty() ? "workflow.toml" : cli.positionals()[0];
}


std::string megabytes(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return buf;
}

// A run whose driver died may still have stages running on their own.
bool stages_still_running(const RunStatus& run) {
  for (const auto& [name, st] : run.state)
    if (st.active() && !st.attempts.empty() && attempt_process_alive(st.attempts.back()).value_or(false))
      return true;
  return false;
}

}  // namespace

// `status` in a directory `cadenza sync` mirrors into.
int print_mirror_status(const std::string& mirror_file, const std::optional<RunStatus>& run, bool as_json) {
  const json mirror = json::parse(read_file(mirror_file));
  const double age = wall_clock_s() - mirror.value("synced_at", 0.0);
  if (as_json) {
    json out = run ? live_status_json(*run) : json::object();
    out["mirror"] = {{"remote", mirror.value("remote", "")}, {"synced_s_ago", age}};
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::cout << "mirror of " << mirror.value("remote", "?") << ", synced " << static_cast<int>(age)
            << " s ago (`cadenza sync` refreshes it)\n";
  if (run) print_live_status(*run);
  else std::cout << "no run recorded there yet\n";
  return 0;
}

int cmd_status(const Args& args) {
  if (args.size() == 1 && (args[0] == "-h" || args[0] == "--help")) return print_help("status"), 0;
  CliArgs cli("status", args, {"--exp"}, {"--json", "-w|--watch"});
  cli.expect_at_most(1, "cadenza status [workflow.toml] [--exp NAME] [--json] [--watch]");
  const std::string exp = cli.get("--exp");
  // While a run is going: its live state, from the files it leaves behind.
  const std::string runs_dir = workflow_state_dir(workflow_arg(cli)) + (exp.empty() ? "" : "/exps/" + exp) + "/runs";
  auto run = read_run(runs_dir);
  if (run && !run->finished && run->superseded_by.empty() && !run->alive() &&
      run->driver != DriverState::kHandedOff && !stages_still_running(*run)) {
    std::cerr << "note: run " << run->run_id() << " ended without finishing (its driver, pid "
              << run->info.driver.pid << " on " << run->info.driver.host
              << ", died); `cadenza run` picks up what is left\n";
    run.reset();
  }
  if (run && !run->finished && run->superseded_by.empty()) {
    if (cli.has("--json")) {
      std::cout << live_status_json(*run).dump(2) << "\n";
      return 0;
    }
    while (true) {
      if (cli.has("-w") && ::isatty(STDOUT_FILENO)) std::cout << "\033[H\033[2J";
      print_live_status(*run);
      if (!cli.has("-w") || run->finished || !run->superseded_by.empty() ||
          (!run->alive() && run->driver != DriverState::kHandedOff && !stages_still_running(*run)))
        return 0;
      std::this_thread::sleep_for(std::chrono::seconds(1));
      run = read_run(runs_dir, run->run_id());
      if (!run) return 0;
      if (!::isatty(STDOUT_FILENO)) std::cout << "\n";
    }
  }
  // A mirror made by `cadenza sync` holds records, not the remote's files:
  // its status is what the last run recorded.
  const std::string mirror_file = workflow_state_dir(workflow_arg(cli)) + "/mirror.json";
  if (std::error_code ec; fs::exists(mirror_file, ec)) return print_mirror_status(mirror_file, run, cli.has("--json"));
  auto pw = exp.empty() ? PreparedWorkflow::load(workflow_arg(cli)) : load_recorded_experiment(workflow_arg(cli), exp);
  WorkspaceCache cache(pw->workflow());
  const auto& graph = pw->graph();
  std::vector<bool> will_run(pw->size(), false);
  json report = json::array();
  size_t width = 0;
  for (size_t i = 0; i < pw->size(); ++i) width = std::max(width, pw->stage(i).decl->name.size());
  // Decide stages in waves, each wave's fingerprints in parallel (the walk
  // of dependency directories is most of the time): a stage is decided once
  // all its upstream stages are.
  std::vector<std::string> states(pw->size());
  std::vector<std::vector<std::string>> why(pw->size());
  std::vector<bool> decided(pw->size(), false);
  while (true) {
    std::vector<size_t> wave;
    for (size_t i : graph.order()) {
      if (decided[i]) continue;
      bool ready = true;
      for (size_t u : graph.upstream(i)) ready = ready && decided[u];
      if (ready) wave.push_back(i);
    }
    if (wave.empty()) break;
    parallel_for(wave.size(), [&](size_t k) {
      const size_t i = wave[k];
      const PreparedStage& ps = pw->stage(i);
      std::vector<std::string> reasons;
      std::string state = "up to date";
      for (size_t u : graph.upstream(i))
        if (will_run[u]) reasons.push_back("upstream '" + pw->stage(u).decl->name + "' will run first");
      if (reasons.empty()) {
        try {
          const StageFingerprint fp = cache.fingerprint(ps);
          reasons = cache.reasons_to_run(ps, fp);
          if (!reasons.empty() && cache.cached_run(fp.key)) state = "restorable from cache";
        } catch (const Error& e) {
          reasons.push_back(e.what());
        }
      }
      if (!reasons.empty() && state == "up to date") state = "stale";
      states[i] = state;
      why[i] = std::move(reasons);
    });
    for (size_t i : wave) {
      decided[i] = true;
      will_run[i] = !why[i].empty();
    }
  }
  for (size_t i : graph.order()) {
    const PreparedStage& ps = pw->stage(i);
    const std::string& state = states[i];
    const std::vector<std::string>& reasons = why[i];
    report.push_back({{"stage", ps.decl->name}, {"state", state}, {"reasons", reasons}});
    if (cli.has("--json")) continue;
    std::string line = ps.decl->name + std::string(width + 2 - ps.decl->name.size(), ' ') + state;
    for (size_t k = 0; k < reasons.size(); ++k) line += (k ? "; " : ": ") + reasons[k];
    std::cout << line << "\n";
  }
  if (cli.has("--json")) std::cout << report.dump(2) << "\n";
  cache.stats().save();
  return 0;
}

int cmd_checkout(const Args& args) {
  if (args.size() == 1 && (args[0] == "-h" || args[0] == "--help")) return print_help("checkout"), 0;
  CliArgs cli("checkout", args, {}, {});
  cli.expect_at_most(1, "cadenza checkout [workflow.toml]");
  auto pw = PreparedWorkflow::load(workflow_arg(cli));
  WorkspaceCache cache(pw->workflow());
  int restored = 0, current = 0, missing = 0;
  for (const auto& [stage, entry] : cache.lock().stages()) {
    for (const auto& [name, out] : entry.outs) {
      const std::string abs = pw->workflow().workspace + "/" + out.path;
      FileStat st;
      try {
        if (const std::string why = path_escape(pw->workflow().workspace, out.path); !why.empty())
          throw Error(why);
        if (stat_path(abs, &st) && cache.hash_path(abs).hash == out.hash) {
          ++current;
          continue;
        }
        cache.store().restore(stored(out), abs, cache.link_mode());
        std::cout << stage << ": restored " << out.path << "\n";
        ++restored;
      } catch (const Error& e) {
        std::cerr << stage << ": cannot restore " << out.path << ": " << e.what() << "\n";
        ++missing;
      }
    }
  }
  cache.stats().save();
  std::cout << "checkout: " << restored << " restored, " << current << " already current"
            << (missing ? ", " + std::to_string(missing) + " missing" : "") << "\n";
  return missing ? 1 : 0;
}

int cmd_gc(const Args& args) {
  if (args.size() == 1 && (args[0] == "-h" || args[0] == "--help")) return print_help("gc"), 0;
  CliArgs cli("gc", args, {"-w|--workspace", "--grace"}, {"--runs", "-n|--dry-run"});
  cli.expect_at_most(1, "cadenza gc [workflow.toml] [--workspace DIR]... [--runs] [--grace DURATION]");
  auto pw = PreparedWorkflow::load(workflow_arg(cli));
  const Workflow& wf = pw->workflow();
  WorkspaceCache cache(wf);
  const std::string grace_text = cli.get("--grace", "1h");
  const auto grace_s = sdk::parse_seconds(grace_text);  // the one duration format (sdk/units.h)
  if (!grace_s)
    throw Error("cadenza gc: --grace '" + grace_text + "' is not a duration (e.g. 3600, 90s, 30m, 1h, 2d)");
  const int64_t grace = *grace_s;
  const bool dry = cli.has("-n");

  // Every lock that may still need objects: this workspace's, those named
  // with --workspace, and every workspace that registered with this cache.
  std::set<std::string> lock_paths{cache.lock().path()};
  for (const auto& w : cli.all("-w"))
    lock_paths.insert(fs::is_directory(w) ? fs::absolute(w).string() + "/workflow.lock"
                                          : fs::absolute(w).string());
  for (const auto& p : registered_workspaces(wf.cache_dir)) lock_paths.insert(p);
  std::set<std::string> refs;
  std::set<std::string> locked_keys;
  for (const auto& path : lock_paths) {
    std::error_code ec;
    if (!fs::exists(path, ec)) continue;
    try {
      LockFile lock(path);
      for (const auto& [stage, entry] : lock.stages()) {
        locked_keys.insert(entry.key.hex());
        for (const auto& [n, out] : entry.outs) add_refs(cache.store(), stored(out), &refs);
      }
    } catch (const Error& e) {
      // A lock we cannot read might need anything: collect nothing.
      throw Error("gc stopped: " + std::string(e.what()) + " (fix or remove it, then run gc again)");
    }
  }
  int runs_removed = 0;
  for (const auto& record : cache.runs().all()) {
    if (cli.has("--runs") && !locked_keys.count(record.key.hex())) {
      if (!dry) cache.runs().remove(record.key);
      ++runs_removed;
      continue;
    }
    for (const auto& [n, out] : record.outs) add_refs(cache.store(), out, &refs);
  }
  const std::time_t now = std::time(nullptr);
  int removed = 0, kept = 0;
  uint64_t freed = 0;
  for (const auto& rel : cache.store().list_objects()) {
    if (refs.count(rel)) {
      ++kept;
      continue;
    }
    const std::string path = wf.cache_dir + "/objects/" + rel;
    struct stat st;
    // Objects younger than the grace period may belong to a stage that is
    // being stored right now and has no run-cache entry yet.
    if (::stat(path.c_str(), &st) != 0 || now - st.st_ctim.tv_sec < grace) {
      ++kept;
      continue;
    }
    if (!dry) {
      ::unlink(path.c_str());
      forget_seal(cache.store(), rel);
    }
    ++removed;
    freed += static_cast<uint64_t>(st.st_size);
  }
  std::error_code ec;
  // Leftovers of killed stores and transfers (tmp/rsync-partial holds what
  // an interrupted ssh transfer keeps to resume from).
  for (const std::string& dir : {wf.cache_dir + "/tmp", wf.cache_dir + "/tmp/rsync-partial"})
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      struct stat st;
      if (it->path().filename() == "rsync-partial" || ::lstat(it->path().c_str(), &st) != 0) continue;
      if (now - st.st_ctim.tv_sec >= grace && !dry) remove_all_quietly(it->path());
    }
  std::cout << "gc" << (dry ? " (dry run)" : "") << ": " << removed << " objects removed ("
            << megabytes(freed) << "), " << kept << " kept, " << runs_removed
            << " run-cache entries removed; " << lock_paths.size() << " lock files consulted\n";
  return 0;
}


int cmd_cache(const Args& args) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help") return print_help("cache"), args.empty() ? 2 : 0;
  if (args[0] == "hash") {
    if (args.size() != 2) throw Error("usage: cadenza cache hash <file-or-directory>");
    const StoredOutput h = hash_tree(args[1], [](const std::string& p, const FileStat&) {
      return hash_file(p);
    });
    std::cout << h.hash.hex() << "  " << h.size << " bytes" << (h.is_dir ? " (directory)" : "")
              << "  " << args[1] << "\n";
    return 0;
  }
  if (args[0] != "verify") throw Error("cadenza cache: unknown subcommand '" + args[0] + "' (see `cadenza cache --help`)");
  CliArgs cli("cache verify", Args(args.begin() + 1, args.end()), {}, {"--remove"});
  cli.expect_at_most(1, "cadenza cache verify [workflow.toml] [--remove]");
  auto pw = PreparedWorkflow::load(workflow_arg(cli));
  const Workflow& wf = pw->workflow();
  ContentStore store(wf.cache_dir, wf.cache_shared);
  int ok = 0, corrupt = 0;
  uint64_t bytes = 0;
  for (const auto& rel : store.list_objects()) {
    const std::string path = wf.cache_dir + "/objects/" + rel;
    if (store.object_intact(rel, &bytes)) {
      ++ok;
      continue;
    }
    ++corrupt;
    std::cout << "corrupt: " << path << (cli.has("--remove") ? " (removed)" : "") << "\n";
    if (cli.has("--remove")) {
      ::unlink(path.c_str());
      forget_seal(store, rel);
    }
  }
  int incomplete = 0, damaged = 0;
  const RunCache runs(wf.cache_dir, wf.cache_shared);
  for (const auto& [path, why] : runs.damaged()) {
    ++damaged;
    std::cout << "damaged: run-cache entry " << path << ": " << why
              << (cli.has("--remove") ? " (removed)" : "; `cadenza cache verify --remove` drops it") << "\n";
    if (cli.has("--remove")) ::unlink(path.c_str());
  }
  for (const auto& record : runs.all())
    for (const auto& [n, out] : record.outs)
      if (!store.has(out)) {
        ++incomplete;
        std::cout << "incomplete: run-cache entry " << record.key.hex() << " (" << record.stage
                  << ") misses objects of out '" << n << "'; that stage will rerun\n";
        break;
      }
  std::cout << "verify " << wf.cache_dir << ": " << ok << " objects ok (" << megabytes(bytes) << "), "
            << corrupt << " corrupt, " << incomplete << " incomplete run-cache entries, " << damaged
            << " damaged run-cache entries\n";
  return corrupt || damaged ? 1 : 0;
}

}  // namespace cadenza
