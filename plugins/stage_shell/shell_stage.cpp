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
// A non-zero exit fails the stage; a cancel or stop rule sends SIGTERM.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cadenza/sdk/export.h"
#include "cadenza/sdk/params.h"
#include "cadenza/sdk/stage.h"

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

class ShellStage : public cadenza::sdk::Stage {
 public:
  std::vector<ParamSpec> params() const override {
    return {
        ParamSpec::Required("cmd", cadenza::sdk::ParamType::kString,
                            "the shell command; {dep:NAME}, {out:NAME} and {param:NAME} expand to "
                            "shell-quoted paths and values"),
        ParamSpec::String("shell", "/bin/sh", "the shell that runs cmd (with -c)"),
        ParamSpec::AnyOther("the script's own params (lr = 0.01): in cmd as {param:NAME}, in the "
                            "environment as CADENZA_PARAM_<NAME>, all in the JSON file $CADENZA_PARAMS"),
    };
  }

  void run(cadenza::sdk::StageContext& ctx) override {
    const auto params = cadenza::sdk::Params::parse(ctx);
    const nlohmann::json own = own_params(params.json());
    const std::string cmd = expand(ctx, own, params.get<std::string>("cmd"));
    const std::string shell = params.get<std::string>("shell");
    const ParamsFile params_file(ctx, own);

    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) env.emplace_back(*e);
    for (const auto& n : ctx.input_names()) env.push_back(env_name("CADENZA_DEP_", n) + "=" + ctx.input(n));
    for (const auto& n : ctx.output_names()) env.push_back(env_name("CADENZA_OUT_", n) + "=" + ctx.output(n));
    for (const auto& [n, v] : own.items()) env.push_back(env_name("CADENZA_PARAM_", n) + "=" + text_of(v));
    env.push_back("CADENZA_PARAMS=" + params_file.path());
    std::vector<char*> envp;
    for (auto& s : env) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> args{shell, "-c", cmd};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    pid_t pid = 0;
    const int rc = ::posix_spawn(&pid, shell.c_str(), nullptr, nullptr, argv.data(), envp.data());
    if (rc != 0) throw PluginError("stage '" + ctx.stage_name() + "': cannot run " + shell + ": " + std::strerror(rc));
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    int status = 0;
    bool terminated = false;
    while (true) {
      if (::waitpid(pid, &status, WNOHANG) == pid) break;
      if (ctx.cancelled() && !terminated) {
        ::kill(pid, SIGTERM);
        terminated = true;
      }
      if (pidfd >= 0) {
        pollfd p{pidfd, POLLIN, 0};
        ::poll(&p, 1, 50);
      } else {
        ::usleep(5000);
      }
    }
    if (pidfd >= 0) ::close(pidfd);
    if (ctx.cancelled()) throw cadenza::sdk::Cancelled();
    if (WIFSIGNALED(status))
      throw PluginError("stage '" + ctx.stage_name() + "': command killed by signal " +
                        std::to_string(WTERMSIG(status)) + ": " + cmd);
    if (WEXITSTATUS(status) != 0)
      throw PluginError("stage '" + ctx.stage_name() + "': your command exited with code " +
                        std::to_string(WEXITSTATUS(status)) + ": " + cmd);
  }

 private:
  // The script's own params: not cmd and shell, not the params file keys
  // the stage tracks ("params.yaml:train.lr": the script reads its file).
  static nlohmann::json own_params(const nlohmann::json& all) {
    nlohmann::json own = nlohmann::json::object();
    for (const auto& [k, v] : all.items())
      if (k != "cmd" && k != "shell" && k.find(':') == std::string::npos) own[k] = v;
    return own;
  }

  static std::string text_of(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

  // $CADENZA_PARAMS: the params as one JSON object, for the process's life.
  class ParamsFile {
   public:
    ParamsFile(cadenza::sdk::StageContext& ctx, const nlohmann::json& own) {
      const char* tmp = std::getenv("TMPDIR");
      std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/cadenza-params-XXXXXX";
      const int fd = ::mkstemp(pattern.data());
      if (fd < 0) throw PluginError("stage '" + ctx.stage_name() + "': cannot create " + pattern + ": " + std::strerror(errno));
      path_ = pattern;
      const std::string text = own.dump(2) + "\n";
      const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
      ::close(fd);
      if (!ok) throw PluginError("stage '" + ctx.stage_name() + "': cannot write " + path_);
    }
    ~ParamsFile() { ::unlink(path_.c_str()); }
    const std::string& path() const { return path_; }

   private:
    std::string path_;
  };

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

CADENZA_STAGE_PLUGIN(ShellStage, "stage_shell", "1.1.0",
                     "Runs a shell command (your script) with its own params; {dep:NAME}/{out:NAME}/{param:NAME} expand in cmd")
