#include "run_record.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "error.h"
#include "fs_util.h"
#include "wall_clock.h"

namespace cadenza {

using nlohmann::json;

namespace {

// A heartbeat older than this means the driver on another host is gone.
constexpr double kHeartbeatTimeoutS = 30.0;

AttemptStatus& attempt_of(StageStatus& st, int attempt) {
  for (auto& a : st.attempts)
    if (a.attempt == attempt) return a;
  st.attempts.push_back(AttemptStatus{});
  st.attempts.back().attempt = attempt;
  return st.attempts.back();
}

void apply_event(RunStatus& run, const json& e) {
  const std::string event = e.at("event");
  const double t = e.at("t");
  if (event == "run_finished") {
    run.finished = true;
    run.exit_code = e.at("exit_code");
    return;
  }
  if (event == "detaching") {
    run.detaching = true;
    return;
  }
  if (event == "handed_off") {
    run.handed_off_to = e.at("handle");
    return;
  }
  if (event == "superseded") {
    run.superseded_by = e.at("by_run");
    return;
  }
  StageStatus& st = run.state[e.at("stage").get<std::string>()];
  st.since = t;
  if (event == "waiting_for") {
    st.waiting_for = e.at("handle");
    return;
  }
  if (e.value("attempt", 1) == 0) {  // ended without a job: reused, or not run
    st.state = e.at("outcome").get<std::string>();
    st.error = e.value("error", "");
    st.reused = e.value("reused", "");
    return;
  }
  AttemptStatus& a = attempt_of(st, e.value("attempt", 1));
  if (event == "submitted") {
    st.state = "submitted";
    st.waiting_for.clear();
    a.backend = e.at("backend");
    a.handle = e.at("handle");
    a.dir = e.at("dir");
    a.submitted = t;
  } else if (event == "running") {
    st.state = "running";
    a.node = e.value("node", "");
    a.started = t;
  } else if (event == "finished") {
    const auto outcome = sdk::parse_outcome(e.at("outcome").get<std::string>());
    if (!outcome) return;
    a.outcome = outcome;
    a.error = e.value("error", "");
    a.retry = e.value("retry", "");
    a.finished = t;
    st.waiting_for.clear();
    // An attempt that will be retried leaves the stage waiting for the next.
    st.state = a.retry.empty() ? std::string(sdk::outcome_name(*outcome)) : "waiting";
    st.error = a.error;
    st.reused = e.value("reused", "");
  }
}

DriverState driver_state(const RunStatus& run) {
  if (run.finished) return DriverState::kFinished;
  if (!run.handed_off_to.empty()) return DriverState::kHandedOff;
  if (run.info.driver.is_checkable())
    return run.info.driver.alive() ? DriverState::kAlive : DriverState::kDead;
  std::error_code ec;
  const auto mtime = std::filesystem::last_write_time(run.run_dir + "/driver.alive", ec);
  if (ec) return DriverState::kDead;
  const double age = std::chrono::duration<double>(std::filesystem::file_time_type::clock::now() -
                                                   mtime).count();
  return age < kHeartbeatTimeoutS ? DriverState::kRemote : DriverState::kDead;
}

}  // namespace

std::string attempt_dir(const std::string& run_dir, const std::string& stage, int attempt) {
  const std::string dir = run_dir + "/" + stage;
  return attempt <= 1 ? dir : dir + "/attempt-" + std::to_string(attempt);
}

RunRecorder::RunRecorder(std::string run_dir, const RunInfo& info) : run_dir_(std::move(run_dir)) {
  write_file_atomic(run_dir_ + "/run.json",
                    json{{"record_version", kRunRecordVersion},
                         {"run_id", info.run_id},
                         {"workflow", info.workflow},
                         {"started", info.started},
                         {"detached", info.detached},
                         {"driver", info.driver.to_json()},
                         {"stages", info.stages}}
                        .dump(1),
                    Durability::kRenameOnly);
  fd_ = open_append_log(run_dir_ + "/events.jsonl");
  heartbeat(0);
}

RunRecorder::~RunRecorder() {
  if (fd_ >= 0) ::close(fd_);
}

void RunRecorder::append(const std::string& line) {
  const std::string text = line + "\n";
  // The record is what other shells see, but a full disk must not stop the run.
  [[maybe_unused]] ssize_t n = ::write(fd_, text.data(), text.size());
}

void RunRecorder::append_to(const std::string& run_dir, const std::string& json_line) {
  const int fd = open_append_log(run_dir + "/events.jsonl");
  const std::string text = json_line + "\n";
  [[maybe_unused]] ssize_t n = ::write(fd, text.data(), text.size());
  ::close(fd);
}

void RunRecorder::submitted(const std::string& stage, int attempt, const std::string& backend,
                            const std::string& handle, const std::string& dir) {
  append(json{{"t", wall_clock_s()}, {"event", "submitted"}, {"stage", stage}, {"attempt", attempt},
              {"backend", backend}, {"handle", handle}, {"dir", dir}}
             .dump());
}

void RunRecorder::running(const std::string& stage, int attempt, const std::string& node) {
  json j{{"t", wall_clock_s()}, {"event", "running"}, {"stage", stage}, {"attempt", attempt}};
  if (!node.empty()) j["node"] = node;
  append(j.dump());
}

void RunRecorder::finished(const std::string& stage, int attempt, sdk::Outcome outcome,
                           const std::string& error, const std::string& reused,
                           const std::string& retry) {
  json j{{"t", wall_clock_s()}, {"event", "finished"}, {"stage", stage}, {"attempt", attempt},
         {"outcome", std::string(sdk::outcome_name(outcome))}};
  if (!error.empty()) j["error"] = error;
  if (!reused.empty()) j["reused"] = reused;
  if (!retry.empty()) j["retry"] = retry;
  append(j.dump());
}

void RunRecorder::waiting_for(const std::string& stage, const std::string& handle,
                              const std::string& from_run) {
  append(json{{"t", wall_clock_s()}, {"event", "waiting_for"}, {"stage", stage}, {"handle", handle},
              {"from_run", from_run}}
             .dump());
}

void RunRecorder::run_finished(int exit_code) {
  append(json{{"t", wall_clock_s()}, {"event", "run_finished"}, {"exit_code", exit_code}}.dump());
}

void RunRecorder::handed_off(const std::string& backend, const std::string& handle) {
  append(json{{"t", wall_clock_s()}, {"event", "handed_off"}, {"backend", backend}, {"handle", handle}}.dump());
}

void RunRecorder::detaching() { append(json{{"t", wall_clock_s()}, {"event", "detaching"}}.dump()); }

void RunRecorder::heartbeat(double interval_s) {
  const double t = wall_clock_s();
  if (t - last_heartbeat_ < interval_s) return;
  last_heartbeat_ = t;
  const std::string path = run_dir_ + "/driver.alive";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  ::futimens(fd, nullptr);
  ::close(fd);
}

std::optional<RunStatus> read_run(const std::string& runs_dir, const std::string& run_id) {
  std::error_code ec;
  const fs::path dir = fs::path(runs_dir) / run_id;
  if (!fs::exists(dir / "run.json", ec)) return std::nullopt;
  RunStatus run;
  try {
    const json j = json::parse(read_file(dir / "run.json"));
    if (j.value("record_version", 1) != kRunRecordVersion) return std::nullopt;
    run.info.run_id = j.at("run_id");
    run.info.workflow = j.at("workflow");
    run.info.started = j.at("started");
    run.info.detached = j.value("detached", false);
    run.info.driver = ProcessIdentity::from_json(j.at("driver"));
    run.info.stages = j.at("stages").get<std::vector<std::string>>();
  } catch (const std::exception&) {
    return std::nullopt;
  }
  run.run_dir = fs::canonical(dir, ec).string();
  for (const auto& s : run.info.stages) run.state[s].since = run.info.started;
  std::istringstream events(read_file(dir / "events.jsonl"));
  for (std::string line; std::getline(events, line);) {
    try {
      apply_event(run, json::parse(line));
    } catch (const std::exception&) {
      // a torn line (its writer was killed) or one being written right now
    }
  }
  run.driver = driver_state(run);
  return run;
}

std::optional<bool> attempt_process_alive(const AttemptStatus& attempt) {
  if (attempt.dir.empty()) return std::nullopt;
  try {
    const json j = json::parse(read_file(attempt.dir + "/exec.json"));
    const ProcessIdentity p = ProcessIdentity::from_json(j.at("process"));
    if (!p.is_checkable()) return std::nullopt;
    return p.alive();
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace cadenza
