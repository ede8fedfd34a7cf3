// `cadenza push` / `cadenza pull`: the run-cache entries and objects the
// workspace's lock names, and every experiment's record, lock and objects,
// to and from the remote cache. An experiment travels as
// exps/<workflow name>/<experiment>/{experiment.json,<lock>}; pull adds the
// experiments this workspace does not have (its own records are newer).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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
#include "hash.h"
#include "lock_file.h"
#include "prepared_workflow.h"
#include "remote.h"
#include "workspace_cache.h"

namespace cadenza {

namespace fs = std::filesystem;

namespace {

// Objects arrive sealed like locally stored ones (read-only, mtime 0), and
// only once their bytes match their name: a damaged or hostile remote cannot
// plant an object that a restore would trust by its stat.
void check_and_seal_pulled(const ContentStore& store, const std::vector<std::string>& rels) {
  for (const auto& rel : rels) {
    if (rel.rfind("objects/", 0) != 0) continue;
    if (!store.object_intact(rel.substr(8))) {
      ::unlink((store.root() + "/" + rel).c_str());
      throw Error("the remote's object " + rel + " is corrupt (its content does not match its name); it was not "
                  "kept. Run `cadenza cache verify --remove` where the remote cache is");
    }
    store.seal_received(rel.substr(8));
  }
}

std::string object_rel(const Hash128& hash, bool manifest) {
  const std::string hex = hash.hex();
  return "objects/" + hex.substr(0, 2) + "/" + hex.substr(2) + (manifest ? ".dir" : "");
}

// One push or pull, and what it did. Every step is one batched remote call
// (existing, then upload or download), never one per file.
struct Transfer {
  const Workflow& wf;
  WorkspaceCache& cache;
  Remote& remote;
  bool push;
  int copied = 0, present = 0, missing = 0, records = 0;

  // Copies the files `rels` (relative to the cache root) that the far side lacks.
  void move(const std::set<std::string>& wanted) {
    if (wanted.empty()) return;
    const std::vector<std::string> rels(wanted.begin(), wanted.end());
    std::vector<std::string> here, not_here;
    std::error_code ec;
    for (const auto& rel : rels) (fs::exists(wf.cache_dir + "/" + rel, ec) ? here : not_here).push_back(rel);
    if (push) {
      const std::vector<std::string> sent = remote.upload(wf.cache_dir, here, /*replace=*/false);
      copied += static_cast<int>(sent.size());
      present += static_cast<int>(here.size() - sent.size());
      if (!not_here.empty()) {  // rare: not in this cache; fine if the far side has it
        const auto there = remote.existing(not_here);
        present += static_cast<int>(there.size());
        missing += static_cast<int>(not_here.size() - there.size());
      }
      return;
    }
    const std::vector<std::string> fetched = remote.download(not_here, wf.cache_dir);
    present += static_cast<int>(here.size());
    missing += static_cast<int>(not_here.size() - fetched.size());
    check_and_seal_pulled(cache.store(), fetched);
    copied += static_cast<int>(fetched.size());
  }

  // The run-cache entries and objects of every stage in `locks`. Objects go
  // first, entries after: a reader of the far side never finds an entry
  // whose objects are not there yet. A pull learns a directory's files from
  // its manifest, so manifests come first.
  void move_locks(const std::vector<LockFile>& locks) {
    std::set<std::string> entries, manifests, objects;
    for (const auto& lock : locks)
      for (const auto& [stage, entry] : lock.stages()) {
        entries.insert(cache.runs().entry_path(entry.key).substr(wf.cache_dir.size() + 1));
        for (const auto& [n, out] : entry.outs) (out.is_dir ? manifests : objects).insert(object_rel(out.hash, out.is_dir));
      }
    move(manifests);
    for (const auto& lock : locks)
      for (const auto& [stage, entry] : lock.stages())
        for (const auto& [n, out] : entry.outs)
          if (std::error_code ec; out.is_dir && fs::exists(cache.store().object_path(out.hash, true), ec)) {
            std::set<std::string> refs;
            add_refs(cache.store(), stored(out), &refs);
            for (const auto& r : refs)
              if (!manifests.count("objects/" + r)) objects.insert("objects/" + r);
          }
    move(objects);
    move(entries);
  }

  std::string remote_dir(const std::string& experiment) const { return "exps/" + wf.name + "/" + experiment; }
  std::string lock_name() const { return fs::path(lock_file_for(wf.file, "/")).filename().string(); }

  // A private directory under the cache's tmp/, removed when done.
  struct Staging {
    std::string dir;
    explicit Staging(const std::string& cache_dir) : dir(cache_dir + "/tmp/transfer-" + unique_suffix()) {
      fs::create_directories(dir);
    }
    ~Staging() { remove_all_quietly(dir); }
  };

  // The workspace's lock and every experiment's: objects, entries, then records.
  void push_all() {
    std::vector<LockFile> locks{cache.lock()};
    std::vector<std::pair<std::string, std::string>> files;  // local path, remote rel
    for (const auto& r : read_index(experiments_root(wf.workspace))) {
      const std::string dir = experiment_dir(wf.workspace, r.name);
      std::error_code ec;
      if (!fs::exists(dir + "/experiment.json", ec)) continue;
      if (fs::exists(dir + "/" + lock_name(), ec)) {
        locks.emplace_back(dir + "/" + lock_name());
        files.push_back({dir + "/" + lock_name(), remote_dir(r.name) + "/" + lock_name()});
      }
      files.push_back({dir + "/experiment.json", remote_dir(r.name) + "/experiment.json"});
      ++records;
    }
    move_locks(locks);
    Staging staging(wf.cache_dir);
    std::vector<std::string> rels;
    for (const auto& [local, rel] : files) {
      fs::create_directories(fs::path(staging.dir + "/" + rel).parent_path());
      fs::copy_file(local, staging.dir + "/" + rel);
      rels.push_back(rel);
    }
    remote.upload(staging.dir, rels, /*replace=*/true);  // records: ours are the newer
  }

  void pull_experiments() {
    const std::string root = experiments_root(wf.workspace);
    std::vector<std::string> names, rels;
    for (const auto& name : remote.list("exps/" + wf.name)) {
      check_experiment_name(name);  // a hostile remote cannot name ../ paths
      if (load_experiment_record(root, name)) continue;  // ours is the newer
      names.push_back(name);
      rels.push_back(remote_dir(name) + "/experiment.json");
      rels.push_back(remote_dir(name) + "/" + lock_name());
    }
    if (names.empty()) return;
    Staging staging(wf.cache_dir);
    remote.download(rels, staging.dir);
    std::vector<LockFile> locks;
    std::vector<ExperimentRecord> pulled;
    for (const auto& name : names) {
      const std::string from = staging.dir + "/" + remote_dir(name);
      std::error_code ec;
      if (!fs::exists(from + "/experiment.json", ec)) continue;
      ExperimentRecord record =
          experiment_from_json(nlohmann::json::parse(read_file(from + "/experiment.json")), from + "/experiment.json");
      record.workflow = wf.file;  // the record came from another machine's copy of it
      const std::string dir = experiment_dir(wf.workspace, name);
      fs::create_directories(dir);
      if (fs::exists(from + "/" + lock_name(), ec)) {
        fs::copy_file(from + "/" + lock_name(), dir + "/" + lock_name(), fs::copy_options::overwrite_existing);
        locks.emplace_back(dir + "/" + lock_name());
      }
      pulled.push_back(std::move(record));
    }
    move_locks(locks);
    for (const auto& record : pulled) {
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
  const RemoteAddress address = cli.has("--remote") ? parse_remote_address(cli.get("--remote"), fs::current_path().string())
                                                    : parse_remote_address(wf.remote, wf.workspace);
  auto remote = open_remote(address, push);
  Transfer t{wf, cache, *remote, push};
  if (push) {
    t.push_all();
  } else {
    t.move_locks({cache.lock()});
    t.pull_experiments();
  }
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
