// `cadenza exp run | show | diff | apply | remove | stop`.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include <iostream>

#include "cli_args.h"
#include "commands.h"
#include "content_store.h"
#include "error.h"
#include "experiment_apply.h"
#include "experiment_runner.h"
#include "experiment_table.h"
#include "live_run.h"
#include "lock_file.h"
#include "run_detach.h"
#include "run_lock.h"
#include "run_record.h"
#include "wall_clock.h"
#include "fs_util.h"
#include "workflow_parser.h"
#include "workspace_cache.h"

namespace cadenza {

using nlohmann::json;

namespace {

const char* kHelp = R"(usage: cadenza exp <command> [options]

Experiments: the workflow with param overrides, each in its own directory
(.cadenza/exps/<name>/: outputs, lock, runs, record), all on the workspace's
cache. Work that is the same across experiments runs once.

  exp run [workflow.toml] [--name N] [--set STAGE.PARAM=VALUE]... [-d]
          [--grid STAGE.PARAM=V1,V2|range(a,b,step)]... [--sweep FILE] [-j N]
      run one experiment, or a sweep: the cartesian product of every --grid
      (and the [set] / [grid] / [[variant]] tables of a sweep file; a
      [[variant]] may have name = "small" to name its experiment). --set
      params.NAME=VALUE overrides a shared [params] value. Names are given
      (a sweep's become N-<overrides>) or made from the overrides, so a rerun
      of the same sweep finds its experiments and runs only what is missing.
      -j N runs N experiments side by side; --stage-jobs N caps each one's
      concurrent stages; -s/--stage, -f, --explain, -k as for `run`.
      --set FILE:KEY=VALUE (params.yaml:train.lr=0.001) gives the experiment
      its own copy of a params file with that value edited in place; a key
      some stage tracks in its params_files. An override that no stage reads
      is refused. -d/--detach: check everything, then go on in the
      background (outlives the terminal); `exp show` and `exp stop` follow.
  exp show [workflow.toml] [--metrics A,B] [--where COND] [--sort-by [-]COL] [--json | --csv]
      one row per experiment: changed params, metrics (last value; the best of
      each column marked *), status, duration. Metric columns default to
      [experiments] metrics; lower is better unless listed in [experiments]
      maximize. COND: comparisons joined by &&, e.g. 'test/esr < 0.01'.
  exp diff A B [-w workflow.toml]      params, metrics, and why each stage differs
  exp apply NAME [-w workflow.toml]    write NAME's overrides into workflow.toml
      (in place, comments kept) and restore its outputs into the workspace
  exp remove NAME... [-w workflow.toml] forget experiments; `gc` then frees their data
  exp stop NAME [-w workflow.toml]     cancel an experiment's live run
)";

std::string workflow_of(const CliArgs& cli) {
  if (cli.has("-w")) return cli.get("-w");
  return "workflow.toml";
}

// `exp run --detach`: every variant is checked here, then the same command
// goes on in a background process (its own session: it outlives the
// terminal); returns once each experiment has recorded its start.
int detach_sweep(const Args& args, const std::vector<ExperimentPlan>& plans) {
  const std::string root = experiments_root(plans.front().workflow->workflow().workspace);
  fs::create_directories(root);
  const std::string log = root + "/sweep-" + make_run_id() + ".log";
  std::vector<std::string> argv{current_executable().string(), "exp", "run"};
  for (const auto& a : args)
    if (a != "-d" && a != "--detach") argv.push_back(a);
  const double t0 = wall_clock_s() - 1;
  const pid_t pid = spawn_in_background(argv, log);
  auto all_started = [&] {
    for (const auto& plan : plans) {
      auto r = load_experiment_record(root, plan.name);
      if (!r || r->started < t0) return false;
    }
    return true;
  };
  while (!all_started()) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      if (!all_started()) {  // it ended before the last one started: say why
        try {
          std::cerr << read_file(log);
        } catch (const Error&) {
        }
        return WIFEXITED(status) && WEXITSTATUS(status) != 0 ? WEXITSTATUS(status) : 1;
      }
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::cout << "cadenza: " << plans.size() << (plans.size() == 1 ? " experiment goes" : " experiments go")
            << " on in the background (pid " << pid << "; it outlives this terminal):\n";
  for (const auto& plan : plans) std::cout << "  " << plan.name << "\n";
  std::cout << "  table:   cadenza exp show\n"
            << "  watch:   cadenza status --exp " << plans.front().name << " --watch\n"
            << "  stop:    cadenza exp stop " << plans.front().name << "\n"
            << "  output:  " << log << "\n";
  return 0;
}

int exp_run(const Args& args) {
  CliArgs cli("exp run", args, {"--name", "--set", "--grid", "--sweep", "-j|--jobs", "--stage-jobs", "-s|--stage"},
              {"-f|--force", "--explain", "-k|--keep-going", "-d|--detach"});
  cli.expect_at_most(1, "cadenza exp run [workflow.toml] [--name N] [--set S.P=V]... [--grid S.P=V1,V2]... [-j N]");
  const std::string workflow = cli.positionals().empty() ? "workflow.toml" : cli.positionals()[0];
  SweepSpec spec;
  if (cli.has("--sweep")) spec = load_sweep_file(cli.get("--sweep"));
  for (const auto& s : cli.all("--set")) spec.fixed.push_back(parse_set(s));
  for (const auto& g : cli.all("--grid")) spec.grid.push_back(parse_grid(g));
  install_interrupt_handlers();
  RunOptions options;
  options.stages = cli.all("-s");
  std::vector<ExperimentPlan> plans = plan_experiments(workflow, expand(spec), cli.get("--name"), options.stages,
                                                       expanded_names(spec));
  options.jobs = cli.get_int("--stage-jobs", 0, 1);
  options.force = cli.has("-f");
  options.explain = cli.has("--explain");
  options.keep_going = cli.has("-k");
  const int parallel = cli.get_int("-j", 1, 1);
  if (cli.has("-d")) return detach_sweep(args, plans);
  return run_sweep(plans, options, parallel, std::cout);
}

// A chosen metric column that no experiment has is a typo or a stage that
// does not report it (a script without a metrics channel): say which.
void warn_of_unreported_columns(const std::vector<ExperimentRecord>& experiments,
                                const std::vector<std::string>& columns) {
  if (experiments.empty()) return;
  for (const auto& column : columns) {
    const size_t colon = column.find(':');  // "stage:tag" where two stages report the tag
    const std::string tag = colon == std::string::npos ? column : column.substr(colon + 1);
    const bool seen = std::any_of(experiments.begin(), experiments.end(), [&](const ExperimentRecord& e) {
      return e.metrics.contains(column) || e.metrics.contains(tag);
    });
    if (!seen)
      std::cerr << "cadenza: warning: no experiment reported metric '" << column
                << "' (a column of [experiments] metrics or --metrics); a script reports metrics with "
                   "`import cadenza`, metrics_from_dvclive, metrics_from_tensorboard, metrics_from_files or metrics_from_output\n";
  }
}

int exp_show(const Args& args) {
  CliArgs cli("exp show", args, {"--metrics", "--where", "--sort-by"}, {"--json", "--csv"});
  cli.expect_at_most(1, "cadenza exp show [workflow.toml] [--where COND] [--sort-by COL] [--json|--csv]");
  const std::string workflow = cli.positionals().empty() ? "workflow.toml" : cli.positionals()[0];
  const Workflow wf = parse_workflow_file(workflow);
  TableOptions options;
  options.metrics = wf.exp_metrics;
  options.maximize = wf.exp_maximize;
  if (cli.has("--metrics")) {
    options.metrics.clear();
    std::string list = cli.get("--metrics");
    for (size_t start = 0, comma; start <= list.size(); start = comma + 1) {
      comma = list.find(',', start);
      if (comma == std::string::npos) comma = list.size();
      if (comma > start) options.metrics.push_back(list.substr(start, comma - start));
    }
  }
  options.where = cli.get("--where");
  options.sort_by = cli.get("--sort-by");
  const auto experiments = read_index(experiments_root(wf.workspace));
  warn_of_unreported_columns(experiments, options.metrics);
  const ExperimentTable table = build_table(experiments, options);
  if (cli.has("--json")) print_json(experiments, table, std::cout);
  else if (cli.has("--csv")) print_csv(table, std::cout);
  else if (experiments.empty()) std::cout << "no experiments yet (`cadenza exp run --set STAGE.PARAM=VALUE` starts one)\n";
  else print_table(table, std::cout);
  return 0;
}

ExperimentRecord require_experiment(const std::string& workflow, const std::string& name) {
  const std::string root = experiments_root(workflow_workspace_dir(workflow));
  auto r = load_experiment_record(root, name);
  if (!r) {
    std::string known;
    for (const auto& e : read_index(root)) known += (known.empty() ? "" : ", ") + e.name;
    throw Error("no experiment '" + name + "' in " + root +
                (known.empty() ? " (there are none yet)" : " (experiments: " + known + ")"));
  }
  return *r;
}

int exp_diff(const Args& args) {
  CliArgs cli("exp diff", args, {"-w|--workflow"}, {});
  if (cli.positionals().size() != 2) throw Error("usage: cadenza exp diff A B [-w workflow.toml]");
  const std::string workflow = workflow_of(cli);
  const ExperimentRecord a = require_experiment(workflow, cli.positionals()[0]);
  const ExperimentRecord b = require_experiment(workflow, cli.positionals()[1]);
  print_experiment_diff(workflow, a, b, std::cout);
  return 0;
}

int exp_apply(const Args& args) {
  CliArgs cli("exp apply", args, {"-w|--workflow"}, {});
  if (cli.positionals().size() != 1) throw Error("usage: cadenza exp apply NAME [-w workflow.toml]");
  const std::string workflow = workflow_of(cli);
  const ExperimentRecord r = require_experiment(workflow, cli.positionals()[0]);
  apply_experiment(workflow, r, std::cout);
  return 0;
}

int exp_remove(const Args& args) {
  CliArgs cli("exp remove", args, {"-w|--workflow"}, {});
  if (cli.positionals().empty()) throw Error("usage: cadenza exp remove NAME... [-w workflow.toml]");
  const std::string workflow = workflow_of(cli);
  const Workflow wf = parse_workflow_file(workflow);
  const std::string root = experiments_root(wf.workspace);
  for (const auto& name : cli.positionals()) {
    require_experiment(workflow, name);
    const std::string dir = experiment_dir(wf.workspace, name);
    {
      RunLock lock = take_run_lock(workflow + " (experiment " + name + ")", dir, "remove");
      unregister_workspace(wf.cache_dir, lock_file_for(wf.file, dir));
      mark_removed(root, name);
    }
    remove_all_quietly(dir);
    std::cout << "removed experiment " << name << " (`cadenza gc` frees the cache data only it used)\n";
  }
  return 0;
}

int exp_stop(const Args& args) {
  CliArgs cli("exp stop", args, {"-w|--workflow"}, {});
  if (cli.positionals().size() != 1) throw Error("usage: cadenza exp stop NAME [-w workflow.toml]");
  const std::string workflow = workflow_of(cli);
  require_experiment(workflow, cli.positionals()[0]);
  return cmd_cancel({"--all", "--workflow", workflow, "--exp", cli.positionals()[0]});
}

}  // namespace

int cmd_exp(const Args& args) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help") return std::cout << kHelp, args.empty() ? 2 : 0;
  const Args rest(args.begin() + 1, args.end());
  for (const auto& a : rest)
    if (a == "-h" || a == "--help") return std::cout << kHelp, 0;
  if (args[0] == "run") return exp_run(rest);
  if (args[0] == "show") return exp_show(rest);
  if (args[0] == "diff") return exp_diff(rest);
  if (args[0] == "apply") return exp_apply(rest);
  if (args[0] == "remove" || args[0] == "rm") return exp_remove(rest);
  if (args[0] == "stop") return exp_stop(rest);
  throw Error("exp: unknown command '" + args[0] + "' (run, show, diff, apply, remove, stop; see `cadenza exp --help`)");
}

}  // namespace cadenza
