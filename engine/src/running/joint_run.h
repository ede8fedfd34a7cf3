// Several runs of variants of one workflow (a sweep's experiments) driven as
// one scheduling problem by one process: they share one BackendPool, and in
// each pass every run plans stage by stage, in the workflow's order, with
// what all of them submit for a stage going out together (SubmitBatch). On
// SLURM the variants of a stage become one job array; variants held on
// their own upstream variants are held task by task (aftercorr).
//
// Each run keeps its own record, lock and cache view (its experiment's
// directory); identical work in two variants is still run once, through the
// work claims exec-stage takes on the node.
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "backend_pool.h"
#include "orchestrator.h"
#include "submit_batch.h"

namespace cadenza {

class JointRun : public sdk::BackendHost {
 public:
  struct Member {
    const PreparedWorkflow* workflow;  // not owned; outlives the JointRun
    std::string label;                 // prefixes its lines (the experiment's name)
  };
  // Every member gets `options` (with its label); they share one run id.
  JointRun(std::vector<Member> members, RunOptions options, std::ostream& out,
           BackendFactory backends = plugin_backend_factory());
  ~JointRun() override;

  // True when every selected stage of `workflow` goes to a backend that holds
  // dependencies (SLURM): only then is driving variants together worth it.
  static bool suits(const PreparedWorkflow& workflow, BackendFactory backends = plugin_backend_factory());

  // Runs them all; each member's exit code, as Orchestrator::run() gives it.
  std::vector<int> run();
  const std::string& run_id() const { return run_id_; }

  void job_output(const sdk::JobHandle& handle, std::string_view line) override;

 private:
  void plan_pass();

  std::vector<Member> members_;
  std::ostream& out_;
  std::string run_id_;
  BackendPool pool_;
  SubmitBatch batch_;
  std::vector<std::unique_ptr<Orchestrator>> runs_;
  std::vector<bool> done_;  // finished: planned no more
};

}  // namespace cadenza
