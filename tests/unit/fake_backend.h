// A scripted backend for the orchestrator's unit tests: it holds jobs on
// their `after` handles like SLURM (or not, as the test says), and ends each
// attempt of a stage as the script says: an outcome, "run" (run the real
// `cadenza exec-stage` job), or "hang" (running until cancelled). A stage
// without a script, or past its script's end, runs for real.
#pragma once

#include <deque>
#include <map>
#include <string>
#include <vector>

#include "cadenza/sdk/backend.h"
#include "subprocess.h"

namespace cadenza::test {

class FakeBackend : public sdk::Backend {
 public:
  bool holds_dependencies = true;
  std::map<std::string, std::vector<std::string>> script;  // stage -> step per attempt
  bool throw_on_submit = false, throw_on_wait = false;

  std::vector<sdk::JobRequest> submitted;   // every request, in order
  std::vector<std::string> cancelled;       // stage names, in order
  std::vector<sdk::JobRequest> of(const std::string& stage) const {
    std::vector<sdk::JobRequest> out;
    for (const auto& r : submitted)
      if (r.name == stage) out.push_back(r);
    return out;
  }

  void configure(const std::string&, sdk::BackendHost&) override {}
  bool handles_dependencies() const override { return holds_dependencies; }
  sdk::JobHandle submit(const sdk::JobRequest& request) override {
    if (throw_on_submit) throw sdk::PluginError("the fake scheduler is down");
    const sdk::JobHandle handle = "fake-" + std::to_string(submitted.size() + 1);
    submitted.push_back(request);
    jobs_[handle] = Job{request, State::kQueued, attempt_of(request.name)++};
    order_.push_back(handle);
    return handle;
  }
  void attach(const std::vector<sdk::JobHandle>&) override {
    throw sdk::PluginError("the fake backend cannot attach");
  }
  std::vector<sdk::JobUpdate> wait(int) override {
    if (throw_on_wait) throw sdk::PluginError("lost contact with the fake scheduler");
    std::vector<sdk::JobUpdate> updates = std::move(pending_);
    pending_.clear();
    for (const auto& handle : order_) {
      Job& job = jobs_.at(handle);
      if (job.state != State::kQueued || !released(job)) continue;
      const std::string step = step_of(job);
      updates.push_back(update(handle, sdk::JobState::kRunning, sdk::Outcome::kSucceeded));
      if (step == "hang") {
        job.state = State::kHanging;
        continue;
      }
      job.state = State::kFinished;
      if (step == "run") {
        const ProcessResult r = run_process(job.request.argv);
        auto u = update(handle, sdk::JobState::kFinished, r.ok() ? sdk::Outcome::kSucceeded : sdk::Outcome::kFailed);
        u.exit_code = r.exit_code;
        job.succeeded = r.ok();
        updates.push_back(u);
      } else {
        updates.push_back(update(handle, sdk::JobState::kFinished, *sdk::parse_outcome(step),
                                 "scripted " + step));
      }
    }
    return updates;
  }
  void cancel(const sdk::JobHandle& handle) override {
    Job& job = jobs_.at(handle);
    cancelled.push_back(job.request.name);
    if (job.state == State::kFinished) return;
    const bool started = job.state == State::kHanging;
    job.state = State::kFinished;
    pending_.push_back(update(handle, sdk::JobState::kFinished,
                              started ? sdk::Outcome::kCancelled : sdk::Outcome::kNotRun, "cancelled"));
  }

 private:
  enum class State { kQueued, kHanging, kFinished };
  struct Job {
    sdk::JobRequest request;
    State state = State::kQueued;
    int attempt = 0;
    bool succeeded = false;
  };
  int& attempt_of(const std::string& stage) { return attempts_[stage]; }
  std::string step_of(const Job& job) const {
    auto it = script.find(job.request.name);
    if (it == script.end() || job.attempt >= static_cast<int>(it->second.size())) return "run";
    return it->second[job.attempt];
  }
  // Held until every job it waits for succeeded. One that failed holds it
  // for ever, like SLURM's DependencyNeverSatisfied: only cancel() ends it.
  bool released(const Job& job) const {
    for (const auto& h : job.request.after) {
      const Job& dep = jobs_.at(h);
      if (dep.state != State::kFinished || !dep.succeeded) return false;
    }
    return true;
  }
  sdk::JobUpdate update(const sdk::JobHandle& h, sdk::JobState state, sdk::Outcome outcome,
                        std::string message = "") {
    sdk::JobUpdate u;
    u.handle = h;
    u.state = state;
    u.outcome = outcome;
    u.node = "node" + std::to_string(jobs_.at(h).attempt + 1);
    u.message = std::move(message);
    return u;
  }

  std::map<sdk::JobHandle, Job> jobs_;
  std::vector<sdk::JobHandle> order_;
  std::map<std::string, int> attempts_;
  std::vector<sdk::JobUpdate> pending_;
};

}  // namespace cadenza::test
