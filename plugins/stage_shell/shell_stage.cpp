// stage_shell: runs a shell command as a stage, like a DVC `cmd` stage, with
// the cache, DAG and backends of Cadenza around it. It is how a user's own
// script (python3 train.py) becomes a stage.
//
//   [stages.train]
//   plugin = "stage_shell"
//   deps = { data = "data/processed", code = "src/train.py" }
//   outs = { model = "models/model.pt" }
//   params = { cmd = "python3 src/train.py --lr {param:lr}", lr = 0.01, epochs = 10 }
//
// Params: `cmd` and `shell`, and any other param, the script's own, typed by
// its value (lr = 0.01 is a float: `--set train.lr=abc` is refused). Each
// enters the stage's key and can be swept like a plugin's. The command gets
// them as {param:NAME} in cmd (shell-quoted text), as CADENZA_PARAM_<NAME>
// in its environment, and all at once in the JSON file named by
// $CADENZA_PARAMS.
//
// Paths: in `cmd`, {dep:NAME} and {out:NAME} become the shell-quoted absolute
// paths of the stage's deps and outs; the same are in the environment as
// CADENZA_DEP_<NAME> and CADENZA_OUT_<NAME> (names upper-cased). {out:NAME}
// is a staging path that the engine moves into place on success. A command
// may instead write its outs at their own relative paths, as DVC scripts do:
// it runs in its workspace (an experiment's own working tree inside an
// experiment), where those paths are cleared for it first.
//
// Metrics: the script reports them by appending JSON lines to the file
// named by $CADENZA_METRICS (the `cadenza` Python module next to this plugin,
// on the script's PYTHONPATH, does that), and, if the stage says so, through
// the files dvclive writes (metrics_from_dvclive = "dvclive"), the event files
// its TensorBoard SummaryWriter writes (metrics_from_tensorboard = "logs"), or the lines it
// prints (metrics_from_output = 'loss=(?P<loss>\S+)'). All reach the engine
// as a plugin's metrics do: status, stop rules, sinks, experiment records.
//
// Stopping: a stop rule, `cadenza cancel` or `exp stop` creates the file
// named by $CADENZA_STOP_FILE (cadenza.should_stop() turns true); after
// stop_grace_s the script's process tree gets SIGTERM, 5 s later SIGKILL. A
// backend's cancel also sends SIGTERM to the job at once, which
// cadenza.should_stop() catches once the script has asked it. The script
// resumes from checkpoints in $CADENZA_SCRATCH_DIR, which the attempts of
// one stage run share ($CADENZA_ATTEMPT numbers them).
//
// A non-zero exit fails the stage.
#include <dlfcn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cadenza/sdk/export.h"
#include "cadenza/sdk/params.h"
#include "cadenza/sdk/stage.h"
#include "dvclive_files.h"
#include "metric_forwarder.h"
#include "metric_lines.h"
#include "output_metrics.h"
#include "script_process.h"
#include "summary_files.h"
#include "tensorboard_files.h"

extern char** environ;

namespace {

using cadenza::sdk::ParamSpec;
using cadenza::sdk::PluginError;

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string env_name(const std::string& prefix, const std::string& name) {
  std::string out = prefix;
  for (char c : name)
    out += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::toupper(c)) : '_';
  return out;
}

// The files the script talks to Cadenza through, in a private temporary
// directory that goes when the stage ends: params.json ($CADENZA_PARAMS),
// metrics.jsonl ($CADENZA_METRICS) and stop ($CADENZA_STOP_FILE, created on
// a stop request).
class ScriptFiles {
 public:
  ScriptFiles(cadenza::sdk::StageContext& ctx, const nlohmann::json& own) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/cadenza-script-XXXXXX";
    if (!::mkdtemp(pattern.data()))
      throw PluginError("stage '" + ctx.stage_name() + "': cannot create " + pattern + ": " + std::strerror(errno));
    dir_ = pattern;
    const std::string text = own.dump(2) + "\n";
    std::FILE* f = std::fopen(params().c_str(), "w");
    const bool ok = f && std::fwrite(text.data(), 1, text.size(), f) == text.size();
    if (!f || std::fclose(f) != 0 || !ok)
      throw PluginError("stage '" + ctx.stage_name() + "': cannot write " + params());
    std::fclose(std::fopen(metrics().c_str(), "w"));  // exists from the start: `tail -f` works
  }
  ~ScriptFiles() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string params() const { return dir_ + "/params.json"; }
  std::string metrics() const { return dir_ + "/metrics.jsonl"; }
  std::string stop() const { return dir_ + "/stop"; }
  void request_stop() const { std::fclose(std::fopen(stop().c_str(), "w")); }

 private:
  std::string dir_;
};

// The `cadenza` Python module shipped next to this plugin (python/cadenza),
// or "" where it is not.
std::string python_module_dir() {
  Dl_info info{};
  if (!::dladdr(reinterpret_cast<void*>(&python_module_dir), &info) || !info.dli_fname) return "";
  const auto dir = std::filesystem::path(info.dli_fname).parent_path() / "python";
  std::error_code ec;
  return std::filesystem::exists(dir / "cadenza" / "__init__.py", ec) ? dir.string() : "";
}

// Stop request, then SIGTERM after the grace, then SIGKILL: one step at a time.
class StopSequence {
 public:
  explicit StopSequence(double grace_s) : grace_(std::chrono::duration<double>(grace_s)) {}
  void step(bool cancelled, const ScriptFiles& files, const cadenza::script::ScriptProcess& process) {
    const auto now = std::chrono::steady_clock::now();
    if (cancelled && !requested_) {
      files.request_stop();
      requested_ = true;
      term_at_ = now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(grace_);
    } else if (requested_ && !termed_ && now >= term_at_) {
      process.signal_tree(SIGTERM);
      termed_ = true;
      kill_at_ = now + std::chrono::seconds(5);
    } else if (termed_ && !killed_ && now >= kill_at_) {
      process.signal_tree(SIGKILL);
      killed_ = true;
    }
  }

 private:
  std::chrono::duration<double> grace_;
  bool requested_ = false, termed_ = false, killed_ = false;
  std::chrono::steady_clock::time_point term_at_, kill_at_;
};

// Every way a script reports metrics, followed while it runs and once more
// when it has ended; each a channel of its own (its own last step).
class Channels {
 public:
  Channels(cadenza::sdk::StageContext& ctx, const cadenza::sdk::Params& params, const ScriptFiles& files)
      : ctx_(ctx), cwd_(std::filesystem::current_path().string()), forward_(ctx, cwd_),
        metrics_file_(files.metrics(), forward_.warn()), summaries_(paths(params), forward_.warn()) {
    if (const auto dir = params.get<std::string>("metrics_from_dvclive"); !dir.empty())
      dvclive_.emplace(absolute(dir), forward_.warn());
    if (const auto dir = params.get<std::string>("metrics_from_tensorboard"); !dir.empty())
      tensorboard_.emplace(absolute(dir), forward_.warn());
    try {
      if (const auto regex = params.get<std::string>("metrics_from_output"); !regex.empty()) {
        pattern_.emplace(regex);
        output_lines_.emplace(*pattern_, forward_.warn());
      }
    } catch (const std::invalid_argument& e) {
      throw PluginError("stage '" + ctx.stage_name() + "': metrics_from_output: " + e.what());
    }
  }

  bool captures_output() const { return pattern_.has_value(); }
  std::string& printed() { return printed_; }

  // Waits a little for the script; true once it has exited.
  bool wait(cadenza::script::ScriptProcess& process) { return process.wait(50, printed_, ctx_.cancelled()); }

  // Takes what the channels reported since the last call. Directory walks
  // (dvclive, TensorBoard, metrics files) at most four times a second.
  void follow(bool final) {
    pass_output(final);
    metrics_file_.poll(on_file_, final);
    const auto now = std::chrono::steady_clock::now();
    if (final || now - last_scan_ > std::chrono::milliseconds(250)) {
      if (dvclive_) dvclive_->poll(on_dvclive_, final);
      if (tensorboard_) tensorboard_->poll(on_tensorboard_, final);
      summaries_.poll(on_summaries_);
      last_scan_ = now;
    }
    forward_.refresh_progress();
  }

 private:
  std::string absolute(const std::string& path) const { return path.front() == '/' ? path : cwd_ + "/" + path; }
  std::vector<std::string> paths(const cadenza::sdk::Params& params) const {
    std::vector<std::string> out;
    for (const auto& p : params.get<std::vector<std::string>>("metrics_from_files")) out.push_back(absolute(p));
    return out;
  }

  // What the script printed goes on to the stage's log, and through the pattern.
  void pass_output(bool final) {
    for (size_t done = 0; done < printed_.size();) {
      const ssize_t n = ::write(1, printed_.data() + done, printed_.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    if (output_lines_) {
      output_lines_->feed(printed_, on_output_);
      if (final) output_lines_->finish(on_output_);
    }
    printed_.clear();
  }

  cadenza::sdk::StageContext& ctx_;
  std::string cwd_;
  cadenza::script::MetricForwarder forward_;
  cadenza::script::MetricsFileFollower metrics_file_;
  cadenza::script::SummaryFilesFollower summaries_;
  std::optional<cadenza::script::DvcliveFollower> dvclive_;
  std::optional<cadenza::script::TensorboardFollower> tensorboard_;
  std::optional<cadenza::script::OutputPattern> pattern_;
  std::optional<cadenza::script::OutputLines> output_lines_;
  cadenza::script::OnUpdate on_file_ = forward_.channel(), on_dvclive_ = forward_.channel(),
                            on_tensorboard_ = forward_.channel(), on_summaries_ = forward_.channel(),
                            on_output_ = forward_.channel();
  std::string printed_;
  std::chrono::steady_clock::time_point last_scan_ = std::chrono::steady_clock::now();
};

class ShellStage : public cadenza::sdk::Stage {
 public:
  std::vector<ParamSpec> params() const override {
    return {
        ParamSpec::Required("cmd", cadenza::sdk::ParamType::kString,
                            "the shell command; {dep:NAME}, {out:NAME} and {param:NAME} expand to "
                            "shell-quoted paths and values"),
        ParamSpec::String("shell", "/bin/sh", "the shell that runs cmd (with -c)"),
        ParamSpec::String("metrics_from_dvclive", "",
                          "a directory dvclive writes (\"dvclive\"): its plots/metrics/*.tsv rows and "
                          "metrics.json become the stage's metrics"),
        ParamSpec::String("metrics_from_tensorboard", "",
                          "a log directory the script's TensorBoard SummaryWriter writes under "
                          "(\"logs/tensorboard\"): its scalars and audio become the stage's metrics"),
        ParamSpec::StringList("metrics_from_files", {},
                              "JSON or YAML files the script writes whole, as DVC's metrics: (\"metrics.json\"): "
                              "their numbers become metrics, nested keys joined by '/'"),
        ParamSpec::String("metrics_from_output", "",
                          "a regular expression (Python syntax) with named groups: each line the command "
                          "prints that matches reports its groups as metrics, (?P<step>...) the step"),
        ParamSpec::Float("stop_grace_s", 10.0,
                         "seconds between a stop request (cadenza.should_stop() is true) and SIGTERM"),
        ParamSpec::AnyOther("the script's own params (lr = 0.01): in cmd as {param:NAME}, in the "
                            "environment as CADENZA_PARAM_<NAME>, all in the JSON file $CADENZA_PARAMS"),
    };
  }

  void run(cadenza::sdk::StageContext& ctx) override {
    const auto params = cadenza::sdk::Params::parse(ctx);
    const nlohmann::json own = own_params(params.json());
    const std::string cmd = expand(ctx, own, params.get<std::string>("cmd"));
    const ScriptFiles files(ctx, own);
    Channels channels(ctx, params, files);
    cadenza::script::ScriptProcess process = start(ctx, own, cmd, params.get<std::string>("shell"), files,
                                                   channels.captures_output());
    StopSequence stop(params.get<double>("stop_grace_s"));
    for (;;) {
      const bool exited = channels.wait(process);
      // A cancel's SIGTERM can end `sh` in the same instant it sets the
      // flag: once stopping, the script it left must end too.
      if (exited && (!ctx.cancelled() || process.wait(0, channels.printed(), true))) break;
      channels.follow(false);
      stop.step(ctx.cancelled(), files, process);
    }
    channels.follow(true);
    check_exit(ctx, process.status(), cmd);
  }

 private:
  static cadenza::script::ScriptProcess start(cadenza::sdk::StageContext& ctx, const nlohmann::json& own,
                                              const std::string& cmd, const std::string& shell,
                                              const ScriptFiles& files, bool capture_output) {
    std::vector<std::string> env;
    const std::string module_dir = python_module_dir();
    for (char** e = environ; *e; ++e) {
      if (!module_dir.empty() && std::strncmp(*e, "PYTHONPATH=", 11) == 0) continue;
      env.emplace_back(*e);
    }
    for (const auto& n : ctx.input_names()) env.push_back(env_name("CADENZA_DEP_", n) + "=" + ctx.input(n));
    for (const auto& n : ctx.output_names()) env.push_back(env_name("CADENZA_OUT_", n) + "=" + ctx.output(n));
    for (const auto& [n, v] : own.items()) env.push_back(env_name("CADENZA_PARAM_", n) + "=" + text_of(v));
    env.push_back("CADENZA_PARAMS=" + files.params());
    env.push_back("CADENZA_METRICS=" + files.metrics());
    env.push_back("CADENZA_STOP_FILE=" + files.stop());
    env.push_back("CADENZA_SCRATCH_DIR=" + ctx.scratch_dir());
    if (!module_dir.empty()) {
      const char* old = std::getenv("PYTHONPATH");
      env.push_back("PYTHONPATH=" + module_dir + (old && *old ? ":" + std::string(old) : ""));
    }
    // Python buffers a pipe's output in blocks: the lines would come late.
    if (capture_output) env.push_back("PYTHONUNBUFFERED=1");
    try {
      return cadenza::script::ScriptProcess(shell, cmd, env, capture_output);
    } catch (const std::runtime_error& e) {
      throw PluginError("stage '" + ctx.stage_name() + "': " + e.what());
    }
  }

  static void check_exit(cadenza::sdk::StageContext& ctx, int status, const std::string& cmd) {
    if (ctx.cancelled()) throw cadenza::sdk::Cancelled();  // even if it stopped cleanly: its outputs are partial
    if (WIFSIGNALED(status))
      throw PluginError("stage '" + ctx.stage_name() + "': command killed by signal " +
                        std::to_string(WTERMSIG(status)) + ": " + cmd);
    if (WEXITSTATUS(status) != 0)
      throw PluginError("stage '" + ctx.stage_name() + "': your command exited with code " +
                        std::to_string(WEXITSTATUS(status)) + ": " + cmd);
  }

  // The script's own params: not the stage's settings, not the params file
  // keys the stage tracks ("params.yaml:train.lr": the script reads its file).
  static nlohmann::json own_params(const nlohmann::json& all) {
    static const std::set<std::string> settings{"cmd", "shell", "metrics_from_dvclive", "metrics_from_tensorboard",
                                                "metrics_from_files", "metrics_from_output", "stop_grace_s"};
    nlohmann::json own = nlohmann::json::object();
    for (const auto& [k, v] : all.items())
      if (!settings.count(k) && k.find(':') == std::string::npos) own[k] = v;
    return own;
  }

  static std::string text_of(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

  static std::string expand(cadenza::sdk::StageContext& ctx, const nlohmann::json& own, const std::string& cmd) {
    std::string out;
    size_t i = 0;
    while (i < cmd.size()) {
      const bool dep = cmd.compare(i, 5, "{dep:") == 0, o = cmd.compare(i, 5, "{out:") == 0,
                 param = cmd.compare(i, 7, "{param:") == 0;
      if (!dep && !o && !param) {
        out += cmd[i++];
        continue;
      }
      const size_t end = cmd.find('}', i);
      if (end == std::string::npos)
        throw PluginError("stage '" + ctx.stage_name() + "': unclosed placeholder in cmd: " + cmd);
      const size_t start = i + (param ? 7 : 5);
      const std::string name = cmd.substr(start, end - start);
      if (param && !own.contains(name))
        throw PluginError("stage '" + ctx.stage_name() + "': cmd uses {param:" + name + "}, but the stage's params "
                          "have no '" + name + "'; add " + name + " = <value> to its params table");
      out += shell_quote(param ? text_of(own[name]) : dep ? ctx.input(name) : ctx.output(name));
      i = end + 1;
    }
    return out;
  }
};

}  // namespace

CADENZA_STAGE_PLUGIN(ShellStage, "stage_shell", "1.2.0",
                     "Runs a shell command (your script) with its own params; {dep:NAME}/{out:NAME}/{param:NAME} expand in cmd")
