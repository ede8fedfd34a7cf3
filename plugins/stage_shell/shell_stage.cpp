// stage_shell: runs a shell command as a stage, like a DVC `cmd` stage, with
// the cache, DAG and backends of Cadenza around it.
//
//   [stages.sort]
//   plugin = "stage_shell"
//   deps = { words = "data/words.txt" }
//   outs = { sorted = "build/sorted.txt" }
//   params = { cmd = "sort {dep:words} > {out:sorted}" }
//
// In `cmd`, {dep:NAME} and {out:NAME} become the shell-quoted absolute paths
// of the stage's deps and outs (outs point at the staging paths the engine
// moves into place on success). The same paths are in the environment as
// CADENZA_DEP_<NAME> and CADENZA_OUT_<NAME> (upper-cased). The command runs
// in the workspace; a non-zero exit fails the stage; cancel sends SIGTERM.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <string>
#include <vector>

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
                            "the shell command; {dep:NAME} and {out:NAME} expand to paths"),
        ParamSpec::String("shell", "/bin/sh", "the shell that runs cmd (with -c)"),
    };
  }

  void run(cadenza::sdk::StageContext& ctx) override {
    const auto params = cadenza::sdk::Params::parse(ctx);
    const std::string cmd = expand(ctx, params.get<std::string>("cmd"));
    const std::string shell = params.get<std::string>("shell");

    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) env.emplace_back(*e);
    for (const auto& n : ctx.input_names()) env.push_back(env_name("CADENZA_DEP_", n) + "=" + ctx.input(n));
    for (const auto& n : ctx.output_names()) env.push_back(env_name("CADENZA_OUT_", n) + "=" + ctx.output(n));
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
      throw PluginError("stage '" + ctx.stage_name() + "': command exited with code " +
                        std::to_string(WEXITSTATUS(status)) + ": " + cmd);
  }

 private:
  static std::string expand(cadenza::sdk::StageContext& ctx, const std::string& cmd) {
    std::string out;
    size_t i = 0;
    while (i < cmd.size()) {
      const bool dep = cmd.compare(i, 5, "{dep:") == 0, o = cmd.compare(i, 5, "{out:") == 0;
      if (!dep && !o) {
        out += cmd[i++];
        continue;
      }
      const size_t end = cmd.find('}', i);
      if (end == std::string::npos)
        throw PluginError("stage '" + ctx.stage_name() + "': unclosed placeholder in cmd: " + cmd);
      const std::string name = cmd.substr(i + 5, end - i - 5);
      out += shell_quote(dep ? ctx.input(name) : ctx.output(name));
      i = end + 1;
    }
    return out;
  }
};

}  // namespace

CADENZA_STAGE_PLUGIN(ShellStage, "stage_shell", "1.0.0",
                     "Runs a shell command; {dep:NAME}/{out:NAME} expand to the stage's paths")
