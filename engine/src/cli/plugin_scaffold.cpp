#include "plugin_scaffold.h"

#include <cctype>
#include <filesystem>
#include <map>

#include "error.h"
#include "fs_util.h"

namespace cadenza {

namespace {

const char* kStage = R"(// @NAME@: a Cadenza stage plugin. See the SDK guide (sdk/README.md).
#include <cadenza/sdk/export.h>
#include <cadenza/sdk/stage.h>

#include <fstream>
#include <sstream>

namespace {

using cadenza::sdk::ParamSpec;

class @CLASS@ : public cadenza::sdk::Stage {
 public:
  // The params this stage accepts; the engine validates workflow.toml against them.
  std::vector<ParamSpec> params() const override {
    return {ParamSpec::String("greeting", "hello", "text written before the input")};
  }

  // Copies the dep named "input" to the out named "output", after a greeting.
  void run(cadenza::sdk::StageContext& ctx) override {
    std::ifstream in(ctx.input("input"), std::ios::binary);
    if (!in) throw cadenza::sdk::PluginError("cannot read " + ctx.input("input"));
    std::stringstream text;
    text << in.rdbuf();
    std::ofstream out(ctx.output("output"), std::ios::binary);
    out << ctx.params_json() << "\n" << text.str();
    if (!out) throw cadenza::sdk::PluginError("cannot write " + ctx.output("output"));
    ctx.metrics().scalar("@NAME@/bytes", static_cast<double>(text.str().size()), 0);
    ctx.progress(1, 1, "files");
  }
};

}  // namespace

CADENZA_STAGE_PLUGIN(@CLASS@, "@NAME@", "0.1.0", "@NAME@: replace this with one line on what it does")
)";

const char* kSink = R"(// @NAME@: a Cadenza metric sink plugin. See the SDK guide (sdk/README.md).
#include <cadenza/sdk/export.h>
#include <cadenza/sdk/metric_sink.h>

#include <fstream>

namespace {

// Appends every scalar to <workspace>/@NAME@-<stage>.csv.
class @CLASS@ : public cadenza::sdk::MetricSink {
 public:
  void open(const cadenza::sdk::SinkRunInfo& info) override {
    out_.open(info.workspace + "/@NAME@-" + info.stage_name + ".csv", std::ios::app);
    if (!out_) throw cadenza::sdk::PluginError("cannot open the CSV file in " + info.workspace);
    run_id_ = info.run_id;
  }
  void scalar(std::string_view tag, double value, int64_t step) override {
    out_ << run_id_ << ',' << tag << ',' << step << ',' << value << '\n';
  }
  void text(std::string_view, std::string_view, int64_t) override {}
  void audio(std::string_view, const float*, size_t, int, int, int64_t) override {}
  void close(cadenza::sdk::Outcome) override { out_.close(); }

 private:
  std::ofstream out_;
  std::string run_id_;
};

}  // namespace

CADENZA_SINK_PLUGIN(@CLASS@, "@NAME@", "0.1.0", "@NAME@: replace this with one line on what it does")
)";

const char* kBackend = R"(// @NAME@: a Cadenza backend plugin (backend API v2). See the SDK guide (sdk/README.md).
// This skeleton runs one job at a time as a child process; replace start()
// and the polling in wait() with calls to your scheduler, and return the
// scheduler's job id as the handle: that is what lets attach() follow a job
// from another process later.
#include <cadenza/sdk/backend.h>
#include <cadenza/sdk/export.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <deque>

extern char** environ;

namespace {

using namespace cadenza::sdk;

class @CLASS@ : public Backend {
 public:
  void configure(const std::string&, BackendHost& host) override { host_ = &host; }
  bool handles_dependencies() const override { return false; }
  JobHandle submit(const JobRequest& request) override {
    const JobHandle handle = "job-" + std::to_string(getpid()) + "-" + std::to_string(next_++);
    queue_.push_back({handle, request});
    return handle;
  }
  // Jobs of an earlier process. A child process cannot be followed by
  // another process, so this skeleton reports them over with an unknown
  // exit status; the engine then reads their result files. A scheduler
  // backend asks the scheduler about each handle instead.
  void attach(const std::vector<JobHandle>& handles) override {
    for (const auto& h : handles) {
      if (h.rfind("job-", 0) != 0) throw PluginError("'" + h + "' is not a job handle of @NAME@");
      pending_.push_back({h, JobState::kFinished, Outcome::kFailed, -1, 0, "", "exit status unknown"});
    }
  }
  std::vector<JobUpdate> wait(int timeout_ms) override {
    std::vector<JobUpdate> updates = std::move(pending_);
    pending_.clear();
    if (pid_ < 0 && !queue_.empty()) start(updates);
    if (pid_ > 0) reap(timeout_ms, updates);
    return updates;
  }
  void cancel(const JobHandle& handle) override {
    for (auto it = queue_.begin(); it != queue_.end(); ++it)
      if (it->first == handle) {
        queue_.erase(it);
        pending_.push_back({handle, JobState::kFinished, Outcome::kNotRun, -1, 0, "", "cancelled before start"});
        return;
      }
    if (pid_ > 0 && running_ == handle) {
      cancelled_ = true;
      kill(pid_, SIGTERM);
    }
  }

 private:
  void start(std::vector<JobUpdate>& updates) {
    auto [queued_handle, request] = queue_.front();
    queue_.pop_front();
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    // The job writes its own log: it must survive this process.
    posix_spawn_file_actions_addopen(&actions, 1, request.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawn_file_actions_addchdir_np(&actions, request.workdir.c_str());
    std::vector<char*> argv;
    for (auto& a : request.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      pid_ = -1;
      updates.push_back({queued_handle, JobState::kFinished, Outcome::kFailed, -1, 0, "", "cannot start the job"});
      return;
    }
    running_ = queued_handle;
    updates.push_back({running_, JobState::kRunning, Outcome::kSucceeded, -1, 0, "", ""});
  }
  void reap(int timeout_ms, std::vector<JobUpdate>& updates) {
    int status = 0;
    for (int waited = 0; waited < timeout_ms; waited += 10) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        JobUpdate done{running_, JobState::kFinished, Outcome::kSucceeded, -1, 0, "", ""};
        if (WIFSIGNALED(status)) done.signal = WTERMSIG(status);
        else done.exit_code = WEXITSTATUS(status);
        if (done.signal || done.exit_code != 0) done.outcome = cancelled_ ? Outcome::kCancelled : Outcome::kFailed;
        updates.push_back(done);
        pid_ = -1;
        cancelled_ = false;
        return;
      }
      usleep(10000);
    }
  }

  BackendHost* host_ = nullptr;
  int next_ = 1;
  std::deque<std::pair<JobHandle, JobRequest>> queue_;
  std::vector<JobUpdate> pending_;
  JobHandle running_;
  pid_t pid_ = -1;
  bool cancelled_ = false;
};

}  // namespace

CADENZA_BACKEND_PLUGIN(@CLASS@, "@NAME@", "0.1.0", "@NAME@: replace this with one line on what it does")
)";

const char* kCMake = R"(cmake_minimum_required(VERSION 3.18)
project(@NAME@ LANGUAGES CXX)

# Point CMAKE_PREFIX_PATH at Cadenza's install prefix if it is not in /usr/local.
find_package(Cadenza 0.1 REQUIRED)
cadenza_add_plugin(@NAME@ KIND @KIND@ SOURCES @NAME@.cpp)
cadenza_install_plugin(@NAME@)
)";

const char* kReadme = R"(# @NAME@

A Cadenza @KIND@ plugin.

    cmake -S . -B build && cmake --build build
    CADENZA_PLUGIN_PATH=$PWD/build cadenza plugins info @NAME@

Use it from a workflow by adding `plugin_paths = ["<this folder>/build"]` to
`[workflow]`, or install it with `cmake --install build`.
)";

std::string replace_all(std::string text, const std::map<std::string, std::string>& vars) {
  for (const auto& [key, value] : vars)
    for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + value.size()))
      text.replace(at, key.size(), value);
  return text;
}

}  // namespace

std::string scaffold_plugin(const std::string& kind, const std::string& name,
                            const std::string& dir) {
  const std::map<std::string, const char*> sources{{"stage", kStage}, {"sink", kSink}, {"backend", kBackend}};
  if (!sources.count(kind))
    throw Error("cadenza plugin new: kind must be stage, backend or sink (got '" + kind + "')");
  if (name.rfind(kind + "_", 0) != 0 || name.size() <= kind.size() + 1)
    throw Error("cadenza plugin new: a " + kind + " plugin's name must start with '" + kind +
                "_' (e.g. " + kind + "_mine), got '" + name + "'");
  for (char c : name)
    if (!std::islower(static_cast<unsigned char>(c)) && !std::isdigit(static_cast<unsigned char>(c)) && c != '_')
      throw Error("cadenza plugin new: use lower-case letters, digits and '_' in the name ('" + name + "')");
  const fs::path root = fs::path(dir) / name;
  if (fs::exists(root)) throw Error("cadenza plugin new: " + root.string() + " already exists");
  std::string cls;
  bool upper = true;
  for (char c : name) {
    if (c == '_') { upper = true; continue; }
    cls += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  const std::map<std::string, std::string> vars{{"@NAME@", name}, {"@KIND@", kind}, {"@CLASS@", cls}};
  fs::create_directories(root);
  write_file_atomic(root / "CMakeLists.txt", replace_all(kCMake, vars), Durability::kRenameOnly);
  write_file_atomic(root / (name + ".cpp"), replace_all(sources.at(kind), vars), Durability::kRenameOnly);
  write_file_atomic(root / "README.md", replace_all(kReadme, vars), Durability::kRenameOnly);
  return root.string();
}

}  // namespace cadenza
