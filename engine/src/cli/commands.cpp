#include "commands.h"

#include <iostream>
#include <map>

#include "cadenza/sdk/plugin_info.h"
#include "cli_args.h"
#include "error.h"
#include "exec_stage.h"
#include "orchestrator.h"
#include "plugin_catalog.h"
#include "plugin_finder.h"
#include "plugin_scaffold.h"
#include "live_run.h"
#include "run_detach.h"
#include "run_follower.h"
#include "run_lock.h"
#include "run_record.h"
#include "prepared_workflow.h"
#include "stage_graph.h"
#include "workflow_parser.h"

namespace cadenza {

using nlohmann::json;

namespace {

const std::map<std::string, std::string>& help_texts() {
  static const std::map<std::string, std::string> texts = {
      {"", R"(cadenza — reproducible ML workflows, on a laptop or a SLURM cluster

usage: cadenza <command> [options]

commands:
  run [workflow.toml]        run the stages whose inputs changed (default: ./workflow.toml);
                             --detach leaves it running in the background, --attach follows it
  status [workflow.toml]     the live run (stages, progress, metrics), or which stages are stale and why
  logs [-f] <stage>          a stage's log in the latest run; -f follows it
  cancel <stage> | --all     stop a running stage (or the whole run) from another terminal
  exp run|show|diff|apply|remove|stop   experiments and sweeps on one shared cache
                             (`cadenza exp --help`)
  checkout                   put the outputs recorded in workflow.lock in place, from the cache
  gc                         remove cache objects nothing refers to any more
  push / pull                copy cached outputs to / from a remote cache (a directory, or ssh)
  sync                       mirror a remote workspace's logs and records here (ssh)
  cache verify               re-hash every cached object, report corrupt ones
  dag [workflow.toml]        print the stage graph (--dot for Graphviz)
  import dvc [dvc.yaml]      write workflow.toml from a DVC 3 pipeline; the scripts run unchanged
  plugins                    list every plugin found: kind, name, version, ABI, path
  plugins info <name>        a plugin's description and params schema
  plugin new <kind> <name>   scaffold a plugin folder that builds against the installed SDK
  exec-stage <spec.json>     run one stage from a job spec (what backends run)

options:
  -h, --help                 this help; `cadenza <command> --help` for a command
  --version                  print the version

Plugins are searched in <bindir>/../lib/cadenza/plugins, <bindir>/plugins,
$CADENZA_PLUGIN_PATH and [workflow].plugin_paths, in that order.
)"},
      {"run", R"(usage: cadenza run [workflow.toml] [options]

Checks the whole workflow (TOML, params against each plugin's schema, the
DAG), then runs stages whose inputs are ready on their backends. Each stage
runs in its own process (`cadenza exec-stage`); its output is shown with a
[stage] prefix and kept in .cadenza/runs/<run id>/<stage>/log.txt.

options:
  -j, --jobs N        run at most N stages at once (the backend's max_jobs)
  -s, --stage NAME    run NAME and the stages it needs; may be repeated
  -k, --keep-going    after a failure, keep running stages that do not need it
  -f, --force         run every selected stage, even if up to date or cached
      --explain       say why each stage runs, is up to date or is restored
  -d, --detach        return at once; the run goes on in a background driver that
                      outlives this terminal (watch it: status --watch, logs -f)
      --attach        follow the workspace's live run here (Ctrl-C stops following)
  -h, --help          this help

A stage runs only when its key changed: the key hashes the plugin (name,
version, library contents), the stage's resolved params, its deps' contents
and its outs' paths. A stage whose key is in the run-cache is restored
instead of run. workflow.lock records what produced what.

A workspace has at most one live run: a second `run` refuses and names it.
If a run's driver died (kill -9, a crash, a reboot), the next `run` waits for
its stages that are still running and reuses what they and it finished.

A stage ends as succeeded, failed, timed_out, out_of_memory, preempted,
node_failure, cancelled or not_run. `retries = N` ([workflow] default, or per
stage) runs it again after a failure: a time limit with time x
retry_time_factor (default 2), out of memory with mem x retry_mem_factor; a
preemption is resubmitted without using a retry; a cancel is never retried.

Ctrl-C cancels running stages (SIGTERM, then SIGKILL after the backend's
grace period; a second Ctrl-C kills at once) and exits with status 130.
)"},
      {"dag", R"(usage: cadenza dag [workflow.toml] [--dot]

Prints the stages in execution order with the stages each one needs, or with
--dot the graph in Graphviz DOT (cadenza dag --dot | dot -Tsvg > dag.svg).
)"},
      {"plugins", R"(usage: cadenza plugins [--workflow workflow.toml] [--json]
       cadenza plugins info <name> [--workflow workflow.toml] [--json]

Lists every plugin in the search path with kind, name, version, SDK ABI and
path, or describes one plugin and its params. With --workflow, the
workflow's plugin_paths are searched too.
)"},
      {"plugin", R"(usage: cadenza plugin new <stage|backend|sink> <name> [directory]

Writes <directory>/<name>/ (CMakeLists.txt, <name>.cpp, README.md): a
working plugin of that kind that builds against the installed Cadenza
package. See the plugin author's guide, sdk/README.md.
)"},
      {"status", R"(usage: cadenza status [workflow.toml] [--exp NAME] [--json] [-w|--watch]

While a run of the workflow is going (attached, detached, or with its driver
dead but stages still running), from any directory and any host sharing the
workspace: whether its driver lives, each stage's state (waiting, submitted,
running with elapsed time, progress and latest metrics, or how it ended:
succeeded, up to date / restored, failed, timed_out, out_of_memory,
preempted, node_failure, cancelled, not_run, with the error) and every
attempt of a retried stage; --json for scripts; --watch refreshes every
second until the run ends.
Otherwise: for each stage, up to date, restorable from cache, or stale, with
the reasons ("dep data/x changed", "params.train.lr 0.01 -> 0.005", "plugin
stage_x rebuilt", "out y is missing"). Loads no plugin and runs nothing.
)"},
      {"logs", R"(usage: cadenza logs [-f] <stage> [--workflow workflow.toml] [--exp NAME]

Prints the log of the stage's latest attempt in the latest run
(.cadenza/runs/latest/<stage>/log.txt, attempt-N/log.txt for retries); with
-f keeps following it, across retries, until the stage is done.
)"},
      {"cancel", R"(usage: cadenza cancel <stage> | --all [--workflow workflow.toml] [--exp NAME]

Stops a running stage of the live run, from any shell: the run's driver asks
the stage's backend to cancel it (SIGTERM then SIGKILL locally; scancel on
SLURM). The stage is recorded as cancelled (never retried), nothing partial
enters the cache, and the stages that need it do not run. --all cancels the
whole run, like Ctrl-C. If the run's driver is gone, cancel reaches the jobs
it left through their backends itself.
)"},
      {"import", R"(usage: cadenza import dvc [dvc.yaml] [--force] [--adopt]

Writes workflow.toml next to a DVC 3 pipeline (refusing to replace one
without --force): one stage_shell stage per DVC stage, its command run
unchanged in its wdir, deps and outs at their paths, params as params_files
keys, metrics files and dvclive's layout as the stage's metrics. vars,
${...} templating, foreach and matrix are expanded (one stage each; DVC's
"train@a" is named "train-a"). .dvc/config's default remote becomes the
workflow's remote when it is a directory or ssh. What has no equivalent is
written as a comment at its stage and listed with its dvc.yaml line.
--adopt: outputs whose md5 (and whose stage's deps and params) match
dvc.lock are stored in the cache and workflow.lock as the imported stages'
results, so the first `cadenza run` runs nothing of them; any other stage is
named with why and left to run.
)"},
      {"checkout", R"(usage: cadenza checkout [workflow.toml]

Restores every out recorded in workflow.lock whose workspace copy is missing
or differs, from the cache ([workflow].cache_link decides copy or link).
)"},
      {"gc", R"(usage: cadenza gc [workflow.toml] [--workspace DIR]... [--runs] [--grace DURATION] [-n]

Removes cache objects that nothing refers to. Kept: everything the lock file
of this workspace needs, of each --workspace, and of every workspace that
ever ran with this cache (each registers its lock under <cache>/workspaces/),
everything a run-cache entry refers to, and any object younger than --grace
(a duration as in workflow.toml: 3600, 90s, 30m, 1h, 2d; default 1h: it may
belong to a stage being stored right now).
--runs also drops run-cache entries no consulted lock file uses.
-n, --dry-run only counts.
)"},
      {"push", R"(usage: cadenza push [workflow.toml] [--remote WHERE]

Copies the run-cache entries and objects that workflow.lock refers to, and
every experiment's record, lock and objects, into the remote cache
([workflow].remote, or --remote), skipping what is there. WHERE is a
directory (or file:///path), ssh://[user@]host[:port]/path or
[user@]host:path; ssh remotes go through your own OpenSSH (~/.ssh/config,
agent, ProxyJump) in batch mode, with rsync at both ends, over one
connection. $CADENZA_SSH_COMMAND replaces `ssh` (e.g. "ssh -F ./config").
)"},
      {"pull", R"(usage: cadenza pull [workflow.toml] [--remote WHERE]

Fetches the run-cache entries and objects that workflow.lock refers to, and
the experiments this workspace does not have, from the remote cache (WHERE
as for push). Then `cadenza checkout`, or `cadenza run` restores them.
)"},
      {"sync", R"(usage: cadenza sync <[user@]host:workspace | ssh://host/workspace> <local dir>
                    [--every 10s] [--workflow workflow.toml]

Mirrors a remote workspace's workflow file and lock, run records
(.cadenza/runs), experiment records (.cadenza/exps) and TensorBoard logdirs
(logs/, and each sink's logdir) into <local dir>, once, or every period
until Ctrl-C. Growing files (event files, logs) get only their new bytes,
appended in place, so a TensorBoard reading the mirror never loses a file;
the rest is replaced atomically. Then, in <local dir>: `tensorboard --logdir
logs/tensorboard`, `cadenza exp show`, `cadenza status`.
)"},
      {"cache", R"(usage: cadenza cache verify [workflow.toml] [--remove]
       cadenza cache hash <file-or-directory>

hash prints the content hash Cadenza computes for a path (XXH3-128; for a
directory, over its sorted manifest).

Re-hashes every object in the cache and reports those whose content does not
match their name (--remove deletes them), and run-cache entries whose
objects are missing. Exits 1 if anything is corrupt.
)"},
      {"exec-stage", R"(usage: cadenza exec-stage <spec.json>

Runs one stage as described by a job spec written by `cadenza run`. Backends
run this command; you rarely need to. Exit codes: 0 succeeded, 1 failed,
2 unreadable spec, 3 stopped by a signal (cancelled, timed out or preempted:
result.json says which). The result is written to <run_dir>/result.json.
)"},
  };
  return texts;
}

bool wants_help(const Args& args) {
  for (const auto& a : args)
    if (a == "-h" || a == "--help") return true;
  return false;
}

std::string workflow_arg(const CliArgs& cli) {
  return cli.positionals().empty() ? "workflow.toml" : cli.positionals()[0];
}

}  // namespace

bool print_help(const std::string& command) {
  auto it = help_texts().find(command);
  if (it == help_texts().end()) return false;
  std::cout << it->second;
  return true;
}

namespace {

RunLock inherited_run_lock() {
  const char* fd = std::getenv(kRunLockFdVariable);
  return RunLock::adopt(fd ? std::atoi(fd) : -1);
}

}  // namespace

int cmd_run(const Args& args) {
  if (wants_help(args)) return print_help("run"), 0;
  CliArgs cli("run", args, {"-j|--jobs", "-s|--stage", "--as-driver"},
              {"-k|--keep-going", "-f|--force", "--explain", "-d|--detach", "--attach"});
  cli.expect_at_most(1, "cadenza run [workflow.toml] [-j N] [--stage NAME] [--detach | --attach]");
  RunOptions options;
  options.workflow_path = workflow_arg(cli);
  options.jobs = cli.get_int("-j", 0, 1);
  options.stages = cli.all("-s");
  options.keep_going = cli.has("-k");
  options.force = cli.has("-f");
  options.explain = cli.has("--explain");
  const std::string state_dir = workflow_state_dir(options.workflow_path);
  if (cli.has("--attach")) {
    if (cli.has("-d")) throw Error("run: --attach and --detach exclude each other");
    auto live = read_run(state_dir + "/runs");
    if (!live || live->finished)
      throw Error(options.workflow_path + ": no live run to attach to (`cadenza run` starts one)");
    return follow_run(state_dir + "/runs", live->run_id());
  }
  install_interrupt_handlers();
  // Check the whole workflow first: a detached run must fail here, in the
  // user's terminal, not in a log nobody reads.
  auto prepared = PreparedWorkflow::load(options.workflow_path, options.stages);
  options.run_id = cli.has("--as-driver") ? cli.get("--as-driver") : make_run_id();
  options.detached = cli.has("--as-driver");
  RunLock lock = options.detached ? inherited_run_lock()
                                  : take_run_lock(options.workflow_path, state_dir, options.run_id);
  if (cli.has("-d")) {
    Args forwarded;
    for (const auto& a : args)
      if (a != "-d" && a != "--detach") forwarded.push_back(a);
    return start_detached_driver(forwarded, state_dir, options.run_id, lock);
  }
  options.ask_on_interrupt = !options.detached && ::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO);
  Orchestrator orchestrator(*prepared, options, std::cout);
  const int code = orchestrator.run();
  if (code != kRunDetachRequested) return code;
  // Ctrl-C, then "detach": a background driver takes over the live jobs.
  Args forwarded;
  for (const auto& a : args)
    if (a != "-d" && a != "--detach") forwarded.push_back(a);
  return start_detached_driver(forwarded, state_dir, make_run_id(), lock);
}

int cmd_dag(const Args& args) {
  if (wants_help(args)) return print_help("dag"), 0;
  CliArgs cli("dag", args, {}, {"--dot"});
  cli.expect_at_most(1, "cadenza dag [workflow.toml] [--dot]");
  const Workflow wf = parse_workflow_file(workflow_arg(cli));
  const StageGraph graph(wf);
  std::cout << (cli.has("--dot") ? graph.to_dot() : graph.to_text());
  return 0;
}

int cmd_plugins(const Args& args) {
  if (wants_help(args)) return print_help("plugins"), 0;
  CliArgs cli("plugins", args, {"--workflow"}, {"--json"});
  std::vector<std::string> extra;
  if (cli.has("--workflow")) extra = parse_workflow_file(cli.get("--workflow")).plugin_paths;
  const PluginFinder finder(extra);
  PluginCatalog catalog("");
  const auto& pos = cli.positionals();
  if (!pos.empty() && pos[0] == "info") {
    if (pos.size() != 2) throw Error("usage: cadenza plugins info <name>");
    const std::string& name = pos[1];
    std::string path;
    try {
      path = finder.find(name);
    } catch (const Error&) {
      // Allow short names: "local" for backend_local, "preprocess" for stage_preprocess.
      for (const char* kind : {"stage", "backend", "sink"}) {
        try {
          path = finder.find(full_plugin_name(kind, name));
          break;
        } catch (const Error&) {
        }
      }
      if (path.empty()) throw;
    }
    const PluginMeta& meta = catalog.describe(path);
    if (cli.has("--json")) {
      std::cout << plugin_meta_to_json(meta).dump(2) << "\n";
      return 0;
    }
    const PluginInfo& i = meta.info;
    std::cout << i.name << " " << i.version << " (" << i.kind << " plugin, SDK ABI "
              << i.abi_version << ")\n  " << i.description << "\n  path: " << i.path
              << "\n  built with: " << i.compiler << ", " << i.stdlib_abi << "\n";
    if (i.kind == "stage") {
      std::cout << "params:\n";
      if (meta.params.empty()) std::cout << "  (none)\n";
      for (const auto& p : meta.params) {
        if (p.is_any_other()) {
          std::cout << "  any other param, typed by its value in workflow.toml\n      " << p.description << "\n";
          continue;
        }
        std::cout << "  " << p.name << " (" << sdk::param_type_name(p.type)
                  << (p.required() ? ", required" : ", default " + p.default_json);
        for (const auto& [value, def] : p.defaults_by)
          std::cout << "; " << def << " when " << p.default_by << " = " << value;
        std::cout << ")";
        if (!p.choices.empty()) {
          std::cout << " one of:";
          for (const auto& c : p.choices) std::cout << " " << c;
        }
        if (p.has_bounds) std::cout << " in [" << json(p.min) << ", " << json(p.max) << "]";
        std::cout << "\n      " << p.description << "\n";
      }
    }
    return 0;
  }
  cli.expect_at_most(0, "cadenza plugins [info <name>]");
  json all = json::array();
  int broken = 0;
  if (!cli.has("--json"))
    std::printf("%-8s %-24s %-10s %-4s %s\n", "KIND", "NAME", "VERSION", "ABI", "PATH");
  for (const auto& path : finder.all()) {
    try {
      const PluginInfo& i = catalog.describe(path).info;
      if (cli.has("--json")) {
        all.push_back(plugin_meta_to_json(catalog.describe(path)));
        continue;
      }
      std::printf("%-8s %-24s %-10s %-4u %s\n", i.kind.c_str(), i.name.c_str(),
                  i.version.c_str(), i.abi_version, i.path.c_str());
    } catch (const Error& e) {
      ++broken;
      std::cerr << "warning: " << e.what() << "\n";
    }
  }
  if (cli.has("--json")) std::cout << all.dump(2) << "\n";
  if (!cli.has("--json")) {
    std::cout << "searched:";
    for (const auto& d : finder.search_dirs()) std::cout << " " << d;
    std::cout << "\n";
  }
  return broken ? 1 : 0;
}

int cmd_exec_stage(const Args& args) {
  if (wants_help(args)) return print_help("exec-stage"), 0;
  if (args.size() != 1) throw Error("usage: cadenza exec-stage <spec.json>", kExitBadSpec);
  return exec_stage(args[0]);
}

int cmd_plugin(const Args& args) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help") return print_help("plugin"), args.empty() ? 2 : 0;
  if (args[0] != "new" || args.size() < 3 || args.size() > 4)
    throw Error("usage: cadenza plugin new <stage|backend|sink> <name> [directory]");
  const std::string root = scaffold_plugin(args[1], args[2], args.size() == 4 ? args[3] : ".");
  std::cout << "created " << root << "\n  cmake -S " << root << " -B " << root
            << "/build && cmake --build " << root << "/build\n";
  return 0;
}

int cmd_plugin_meta(const Args& args) {
  if (args.size() != 1) throw Error("usage: cadenza plugin-meta <library.so>");
  std::cout << plugin_meta_to_json(describe_plugin_in_process(args[0])).dump() << "\n";
  return 0;
}

}  // namespace cadenza
