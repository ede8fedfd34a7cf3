#include "job_builder.h"

#include "fs_util.h"
#include "job_spec.h"
#include "run_record.h"
#include "version.h"

namespace cadenza {

using nlohmann::json;

namespace {

JobSpec job_spec(const PreparedWorkflow& pw, size_t i, const std::string& dir,
                 const std::string& run_id, const AttemptPlan& plan) {
  const PreparedStage& ps = pw.stage(i);
  const StageDecl& decl = *ps.decl;
  const Workflow& wf = pw.workflow();
  JobSpec spec;
  spec.run_id = run_id;
  spec.workflow_name = wf.name;
  spec.experiment = wf.experiment;
  spec.stage = decl.name;
  spec.workspace = wf.workspace;
  spec.plugin_name = ps.plugin.name;
  spec.plugin_version = ps.plugin.version;
  spec.plugin_path = ps.plugin_path;
  spec.cadenza_version = kCadenzaVersion;
  if (const auto& c = decl.container)
    spec.container = ContainerSpec{c->runtime,    c->image,   c->image_is_reference, c->binds,
                                   c->extra_args, c->cadenza, plan.resources.gpus};
  spec.image_id = plan.image_id;
  spec.cache_dir = wf.cache_dir;
  spec.cache_link = wf.cache_link;
  spec.cache_shared = wf.cache_shared;
  spec.key = plan.key_hex;
  spec.reuse_cached = plan.reuse_cached;
  spec.params = ps.params;
  for (const auto& [n, d] : decl.deps) spec.deps[n] = d.path;
  for (const auto& [n, o] : decl.outs) spec.outs[n] = o.path;
  spec.outputs_dir = wf.outputs_dir;
  spec.stop_when = decl.stop_when;
  spec.run_dir = dir;
  spec.scratch_dir = wf.state_dir() + "/scratch/" + decl.name;  // + "/<key>" by exec-stage
  spec.cpus = plan.resources.cpus;
  spec.time_limit_s = plan.resources.time_limit_s;
  spec.attempt = plan.attempt;
  spec.sinks = ps.sinks;
  if (!ps.sinks.empty()) spec.workflow_params = pw.flat_params();
  return spec;
}

}  // namespace

sdk::Resources declared_resources(const StageDecl& decl) {
  return {decl.resources.cpus, decl.resources.gpus, decl.resources.mem_bytes,
          decl.resources.time_limit_s};
}

BuiltJob build_job(const PreparedWorkflow& pw, size_t i, const std::string& run_root,
                   const std::string& run_id, const AttemptPlan& plan) {
  const StageDecl& decl = *pw.stage(i).decl;
  BuiltJob job;
  job.dir = attempt_dir(run_root, decl.name, plan.attempt);
  const JobSpec spec = job_spec(pw, i, job.dir, run_id, plan);
  const std::string spec_path = job.dir + "/spec.json";
  write_file_atomic(spec_path, to_json(spec).dump(2), Durability::kInPlace);

  sdk::JobRequest& request = job.request;
  request.name = decl.name;
  request.argv = {current_executable().string(), "exec-stage", spec_path};
  request.workdir = pw.workflow().workspace;
  request.log_path = job.dir + "/log.txt";
  request.run_dir = job.dir;
  request.run_id = run_id;
  request.attempt = plan.attempt;
  request.resources = plan.resources;
  request.exclude_nodes = plan.exclude_nodes;
  request.after = plan.after;
  request.backend_config_json = decl.backend_config.dump();
  return job;
}

}  // namespace cadenza
