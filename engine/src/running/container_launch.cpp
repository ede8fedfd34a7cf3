#include "container_launch.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include "container_command.h"
#include "error.h"
#include "fs_util.h"
#include "version.h"

extern char** environ;

namespace cadenza {

namespace fs = std::filesystem;

namespace {

std::string host_name() {
  char host[256] = "this node";
  ::gethostname(host, sizeof host - 1);
  return host;
}

bool on_path(const std::string& exe) {
  if (exe.find('/') != std::string::npos) return ::access(exe.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  for (size_t start = 0; start <= dirs.size();) {
    const size_t colon = std::min(dirs.find(':', start), dirs.size());
    const std::string dir = dirs.substr(start, colon - start);
    if (!dir.empty() && ::access((dir + "/" + exe).c_str(), X_OK) == 0) return true;
    start = colon + 1;
  }
  return false;
}

// What the node must have before the runtime can start: throws Error.
void check_node(const ContainerSpec& c, const std::string& cadenza) {
  const std::string exe = runtime_executable(c.runtime);
  if (!on_path(exe))
    throw Error("container runtime " + c.runtime + " (`" + exe + "`) is not installed on " + host_name() +
                " (not on PATH): install it, load its module (e.g. `module load " + c.runtime +
                "`), or choose another runtime with container.runtime");
  std::error_code ec;
  if (c.image_is_reference) return;
  if (!fs::exists(c.image, ec))
    throw Error("container image " + c.image + " does not exist on " + host_name() +
                " (is it on a file system the nodes share?)");
  if (c.cadenza == "image" && fs::is_directory(c.image, ec) && !fs::exists(c.image + cadenza, ec))
    throw Error("the image " + c.image + " has no Cadenza at " + cadenza +
                ": build it with scripts/build-image.sh from this Cadenza (installed at the same prefix), "
                "or set container.cadenza = \"host\" to bind the host's in");
}

std::vector<std::string> child_environment() {
  std::vector<std::string> env;
  bool has_user = false;
  for (char** e = environ; *e; ++e) {
    env.emplace_back(*e);
    has_user = has_user || std::strncmp(*e, "USER=", 5) == 0;
  }
  if (!has_user) env.push_back("USER=" + std::string(std::getenv("LOGNAME") ? std::getenv("LOGNAME") : "root"));
  return env;  // Charliecloud refuses to start without USER
}

}  // namespace

bool in_container() { return std::getenv(kInContainerVariable) != nullptr; }

int launch_in_container(const JobSpec& spec, const std::string& spec_path,
                        const std::function<bool()>& stop_requested) {
  const ContainerSpec& c = *spec.container;
  const std::string cadenza = current_executable().string();
  check_node(c, cadenza);
  const std::vector<Bind> binds = container_binds(spec, cadenza);
  if (const std::string why = check_binds(c, binds); !why.empty()) throw Error(why);
  const std::string spec_abs = fs::absolute(spec_path).lexically_normal().string();
  std::vector<std::string> argv = container_argv(
      c, binds, {"/usr/bin/env", std::string(kInContainerVariable) + "=1", cadenza, "exec-stage", spec_abs});
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  std::vector<std::string> env = child_environment();
  std::vector<char*> cenv;
  for (auto& e : env) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  pid_t pid = -1;
  if (const int rc = ::posix_spawnp(&pid, cargv[0], nullptr, nullptr, cargv.data(), cenv.data()); rc != 0)
    throw Error("cannot start " + argv[0] + ": " + std::strerror(rc));
  bool stop_sent = false;
  int status = 0;
  while (true) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) throw Error(std::string("waiting for the container: ") + std::strerror(errno));
    if (!stop_sent && stop_requested()) {
      ::kill(pid, SIGTERM);  // the runtime passes it on to the inner exec-stage
      stop_sent = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string container_mismatch(const JobSpec& spec) {
  if (spec.cadenza_version != kCadenzaVersion)
    return "the Cadenza in this container is " + std::string(kCadenzaVersion) + ", but Cadenza " +
           spec.cadenza_version + " planned the job: rebuild the image with scripts/build-image.sh, or set "
           "container.cadenza = \"host\"";
  std::error_code ec;
  if (!fs::exists(spec.plugin_path, ec))
    return "the container has no plugin " + spec.plugin_path + " (stage plugin " + spec.plugin_name +
           "): build the image with scripts/build-image.sh from the Cadenza that has it, or set "
           "container.cadenza = \"host\"";
  return "";
}

}  // namespace cadenza
