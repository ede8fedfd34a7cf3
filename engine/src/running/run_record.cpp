#include "run_record.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "error.h"
#include "fs_util.h"

namespace cadenza {

using nlohmann::json;

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

RunRecorder::RunRecorder(std::string run_dir, std::string run_id, std::string workflow_file,
                         std::vector<std::string> stages) {
  write_file_atomic(run_dir + "/run.json",
                    json{{"run_id", run_id},
                         {"pid", ::getpid()},
                         {"workflow", workflow_file},
                         {"started", now_s()},
                         {"stages", stages}}
                        .dump(1),
                    Durability::kRenameOnly);
  const std::string events = run_dir + "/events.jsonl";
  fd_ = ::open(events.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error("cannot write " + events + ": " + std::strerror(errno));
}

RunRecorder::~RunRecorder() {
  if (fd_ >= 0) ::close(fd_);
}

void RunRecorder::append(const std::string& line) {
  const std::string text = line + "\n";
  // Status is advisory: a full disk must not stop the run.
  [[maybe_unused]] ssize_t n = ::write(fd_, text.data(), text.size());
}

void RunRecorder::stage(const std::string& name, const std::string& state, const std::string& error) {
  json j = {{"t", now_s()}, {"stage", name}, {"state", state}};
  if (!error.empty()) j["error"] = error;
  append(j.dump());
}

void RunRecorder::finished(int exit_code) {
  append(json{{"t", now_s()}, {"state", "finished"}, {"exit_code", exit_code}}.dump());
}

std::optional<RunStatus> read_run(const std::string& runs_dir, const std::string& run_id) {
  std::error_code ec;
  const fs::path dir = fs::path(runs_dir) / run_id;
  if (!fs::exists(dir / "run.json", ec)) return std::nullopt;
  RunStatus run;
  try {
    const json j = json::parse(read_file(dir / "run.json"));
    run.run_id = j.at("run_id");
    run.pid = j.at("pid");
    run.started = j.at("started");
    run.stages = j.at("stages").get<std::vector<std::string>>();
  } catch (const std::exception&) {
    return std::nullopt;
  }
  run.run_dir = fs::canonical(dir, ec).string();
  for (const auto& s : run.stages) run.state[s] = StageStatus{"waiting", "", run.started};
  std::istringstream events(read_file(dir / "events.jsonl"));
  for (std::string line; std::getline(events, line);) {
    try {
      const json e = json::parse(line);
      if (e.at("state") == "finished") {
        run.finished = true;
        run.exit_code = e.at("exit_code");
        continue;
      }
      auto& st = run.state[e.at("stage").get<std::string>()];
      st.state = e.at("state");
      st.error = e.value("error", "");
      st.since = e.at("t");
    } catch (const std::exception&) {
      // a line being written right now: ignore
    }
  }
  run.alive = !run.finished && ::kill(run.pid, 0) == 0;
  return run;
}

}  // namespace cadenza
