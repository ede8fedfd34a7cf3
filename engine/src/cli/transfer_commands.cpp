// `cadenza push` / `cadenza pull`: the run-cache entries and objects the
// workspace's lock names, and every experiment's record, lock and objects,
// to and from the remote cache. An experiment travels as
// exps/<workflow name>/<experiment>/{experiment.json,<lock>}; pull adds the
// experiments this workspace does not have (its own records are newer).
#include <filesystem>
#include <iostream>
#include <set>

#include "cache_refs.h"
#include "cli_args.h"
#include "commands.h"
#include "error.h"
#include "experiment_record.h"
#include "experiment_workflow.h"
#include "fs_util.h"
#include "lock_file.h"
#include "prepared_workflow.h"
#include "remote.h"
#include "workspace_cache.h"

namespace cadenza {

namespace fs = std::filesystem;

namespace {

// One push or pull, and what it did.
struct Transfer {
  const Workflow& wf;
  WorkspaceCache& cache;
  Remote& remote;
  bool push;
  int copied = 0, present = 0, missing = 0, records = 0;

  // Copies `rel` (relative to the cache root) across unless the far side has it.
  bool move(const std::string& rel) {
    const std::string local = wf.cache_dir + "/" + rel;
    std::error_code ec;
    const bool here = fs::exists(local, ec), there = remote.has(rel);
    if (push ? there : here) return ++present, true;
    if (push ? !here : !there) return ++missing, false;
    if (push) remote.upload(local, rel);
    else remote.download(rel, local);
    ++copied;
    return true;
  }

  // The run-cache entry and objects of every stage in `lock`.
  void move_lock(const LockFile& lock) {
    for (const auto& [stage, entry] : lock.stages()) {
      move(cache.runs().entry_path(entry.key).substr(wf.cache_dir.size() + 1));
      for (const auto& [n, out] : entry.outs) {
        // Manifests first: a pulled directory lists what else to fetch.
        if (out.is_dir) {
          const std::string hex = out.hash.hex();
          move("objects/" + hex.substr(0, 2) + "/" + hex.substr(2) + ".dir");
        }
        std::set<std::string> refs;
        add_refs(cache.store(), stored(out), &refs);
        for (const auto& r : refs) move("objects/" + r);
      }
    }
  }

  std::string remote_dir(const std::string& experiment) const { return "exps/" + wf.name + "/" + experiment; }
  std::string lock_name() const { return fs::path(lock_file_for(wf.file, "/")).filename().string(); }

  void push_experiments() {
    const std::string root = experiments_root(wf.workspace);
    for (const auto& r : read_index(root)) {
      const std::string dir = experiment_dir(wf.workspace, r.name);
      const std::string lock = dir + "/" + lock_name();
      std::error_code ec;
      if (!fs::exists(dir + "/experiment.json", ec)) continue;
      if (fs::exists(lock, ec)) {
        move_lock(LockFile(lock));
        remote.upload(lock, remote_dir(r.name) + "/" + lock_name());
      }
      remote.upload(dir + "/experiment.json", remote_dir(r.name) + "/experiment.json");
      ++records;
    }
  }

  void pull_experiments() {
    const std::string root = experiments_root(wf.workspace);
    for (const auto& name : remote.list("exps/" + wf.name)) {
      check_experiment_name(name);  // a hostile remote cannot name ../ paths
      if (load_experiment_record(root, name)) continue;  // ours is the newer
      const std::string dir = experiment_dir(wf.workspace, name);
      fs::create_directories(dir);
      const std::string tmp = dir + "/experiment.json.pulled";
      remote.download(remote_dir(name) + "/experiment.json", tmp);
      ExperimentRecord record = experiment_from_json(nlohmann::json::parse(read_file(tmp)), tmp);
      fs::remove(tmp);
      record.workflow = wf.file;  // the record came from another machine's copy of it
      if (remote.has(remote_dir(name) + "/" + lock_name())) {
        const std::string lock = dir + "/" + lock_name();
        remote.download(remote_dir(name) + "/" + lock_name(), lock);
        move_lock(LockFile(lock));
      }
      save_experiment(root, record);
      ++records;
    }
  }
};

std::string workflow_arg(const CliArgs& cli) {
  return cli.positionals().empty() ? "workflow.toml" : cli.positionals()[0];
}

int transfer(const Args& args, bool push) {
  const char* name = push ? "push" : "pull";
  if (args.size() == 1 && (args[0] == "-h" || args[0] == "--help")) return print_help(name), 0;
  CliArgs cli(name, args, {"--remote"}, {});
  cli.expect_at_most(1, std::string("cadenza ") + name + " [workflow.toml] [--remote PATH]");
  auto pw = PreparedWorkflow::load(workflow_arg(cli));
  const Workflow& wf = pw->workflow();
  WorkspaceCache cache(wf);
  auto remote = open_remote(cli.has("--remote") ? fs::absolute(cli.get("--remote")).string() : wf.remote);
  Transfer t{wf, cache, *remote, push};
  t.move_lock(cache.lock());
  if (push) t.push_experiments();
  else t.pull_experiments();
  std::cout << name << " " << remote->describe() << ": " << t.copied << " files copied, " << t.present
            << " already there" << (t.missing ? ", " + std::to_string(t.missing) + " missing on both sides" : "")
            << "; " << t.records << " experiment record" << (t.records == 1 ? "" : "s") << "\n";
  if (!push && t.copied) std::cout << "run `cadenza checkout` to put the pulled outputs in place\n";
  return t.missing ? 1 : 0;
}

}  // namespace

int cmd_push(const Args& args) { return transfer(args, true); }
int cmd_pull(const Args& args) { return transfer(args, false); }

}  // namespace cadenza
