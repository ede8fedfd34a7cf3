#include "joint_run.h"

#include "error.h"

namespace cadenza {

namespace {

// Receives nothing: suits() only asks the backends a question.
struct NoOutput : sdk::BackendHost {
  void job_output(const sdk::JobHandle&, std::string_view) override {}
};

}  // namespace

JointRun::JointRun(std::vector<Member> members, RunOptions options, std::ostream& out, BackendFactory backends)
    : members_(std::move(members)),
      out_(out),
      run_id_(options.run_id.empty() ? make_run_id() : options.run_id),
      pool_(*members_.at(0).workflow, options.jobs, *this, std::move(backends)) {
  options.run_id = run_id_;
  for (const auto& m : members_) {
    RunOptions o = options;
    o.label = m.label;
    o.ask_on_interrupt = false;
    o.detached = false;
    runs_.push_back(std::make_unique<Orchestrator>(*m.workflow, o, out_, pool_, batch_));
  }
}

JointRun::~JointRun() = default;

bool JointRun::suits(const PreparedWorkflow& workflow, BackendFactory backends) {
  NoOutput host;
  BackendPool pool(workflow, 0, host, std::move(backends));
  bool any = false;
  for (size_t i = 0; i < workflow.size(); ++i) {
    if (!workflow.selected(i)) continue;
    if (!pool.handles_dependencies(workflow.stage(i).backend)) return false;
    any = true;
  }
  return any;
}

void JointRun::job_output(const sdk::JobHandle& handle, std::string_view line) {
  for (auto& r : runs_) r->job_output(handle, line);  // each ignores jobs not its own
}

// Stage by stage in the workflow's order: a stage's submissions from every
// run go out together, and the next stage's can be held on their handles.
void JointRun::plan_pass() {
  for (size_t stage : members_.front().workflow->graph().order()) {
    for (size_t k = 0; k < runs_.size(); ++k)
      if (!done_[k]) runs_[k]->plan_stage(stage);
    batch_.flush(pool_);
  }
}

std::vector<int> JointRun::run() {
  std::vector<int> codes(runs_.size(), 1);
  for (auto& r : runs_) r->begin();
  done_.assign(runs_.size(), false);
  auto& done = done_;
  size_t left = runs_.size();
  while (left > 0) {
    for (size_t k = 0; k < runs_.size(); ++k)
      if (!done[k]) runs_[k]->react_to_requests();
    plan_pass();
    for (size_t k = 0; k < runs_.size(); ++k) {
      if (done[k] || runs_[k]->live_jobs() > 0) continue;
      codes[k] = runs_[k]->finish();
      done[k] = true;
      --left;
    }
    if (left == 0) break;
    for (size_t k = 0; k < runs_.size(); ++k)
      if (!done[k]) runs_[k]->heartbeat();
    for (const auto& update : pool_.wait(200))
      for (size_t k = 0; k < runs_.size(); ++k)
        if (!done[k]) runs_[k]->on_update(update);
    for (const auto& error : pool_.take_errors()) out_ << "cadenza: " << error << "\n";
  }
  return codes;
}

}  // namespace cadenza
