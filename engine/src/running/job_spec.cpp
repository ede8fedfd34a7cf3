#include "job_spec.h"

#include "error.h"

namespace cadenza {

using nlohmann::json;

namespace {

json container_to_json(const std::optional<ContainerSpec>& c) {
  if (!c) return nullptr;
  return {{"runtime", c->runtime}, {"image", c->image},         {"image_is_reference", c->image_is_reference},
          {"binds", c->binds},     {"extra_args", c->extra_args}, {"cadenza", c->cadenza},
          {"gpus", c->gpus}};
}

std::optional<ContainerSpec> container_from_json(const json& j) {
  if (j.is_null()) return std::nullopt;
  ContainerSpec c;
  c.runtime = j.at("runtime");
  c.image = j.at("image");
  c.image_is_reference = j.at("image_is_reference");
  c.binds = j.at("binds").get<std::vector<std::string>>();
  c.extra_args = j.at("extra_args").get<std::vector<std::string>>();
  c.cadenza = j.at("cadenza");
  c.gpus = j.at("gpus");
  return c;
}

}  // namespace

json to_json(const JobSpec& s) {
  json sinks = json::array();
  for (const auto& sink : s.sinks)
    sinks.push_back({{"name", sink.name}, {"path", sink.path}, {"config", sink.config}});
  return {{"spec_version", kJobSpecVersion},
          {"run_id", s.run_id},
          {"workflow_name", s.workflow_name},
          {"experiment", s.experiment},
          {"stage", s.stage},
          {"workspace", s.workspace},
          {"plugin", {{"name", s.plugin_name}, {"version", s.plugin_version}, {"path", s.plugin_path}}},
          {"cadenza_version", s.cadenza_version},
          {"container", container_to_json(s.container)},
          {"image_id", s.image_id},
          {"params", s.params},
          {"deps", s.deps},
          {"outs", s.outs},
          {"outputs_dir", s.outputs_dir},
          {"stop_when", s.stop_when},
          {"run_dir", s.run_dir},
          {"scratch_dir", s.scratch_dir},
          {"cpus", s.cpus},
          {"time_limit_s", s.time_limit_s},
          {"attempt", s.attempt},
          {"sinks", sinks},
          {"workflow_params", s.workflow_params},
          {"cache",
           {{"dir", s.cache_dir},
            {"link", s.cache_link},
            {"shared", s.cache_shared},
            {"key", s.key},
            {"reuse", s.reuse_cached}}}};
}

JobSpec job_spec_from_json(const json& j, const std::string& source) {
  std::string field;
  try {
    field = "spec_version";
    if (j.at("spec_version").get<int>() != kJobSpecVersion)
      throw Error(source + ": job spec version " + j.at("spec_version").dump() +
                  " is not supported by this cadenza (it reads version " +
                  std::to_string(kJobSpecVersion) +
                  "); run the stage with the cadenza that wrote the spec");
    JobSpec s;
    field = "run_id"; s.run_id = j.at(field);
    field = "workflow_name"; s.workflow_name = j.at(field);
    field = "experiment"; s.experiment = j.at(field);
    field = "stage"; s.stage = j.at(field);
    field = "workspace"; s.workspace = j.at(field);
    field = "plugin.name"; s.plugin_name = j.at("plugin").at("name");
    field = "plugin.path"; s.plugin_path = j.at("plugin").at("path");
    field = "plugin.version"; s.plugin_version = j.at("plugin").at("version");
    field = "cadenza_version"; s.cadenza_version = j.at(field);
    field = "container"; s.container = container_from_json(j.at(field));
    field = "image_id"; s.image_id = j.at(field);
    field = "params"; s.params = j.at(field);
    if (!s.params.is_object()) throw std::invalid_argument("not an object");
    field = "deps"; s.deps = j.at(field).get<std::map<std::string, std::string>>();
    field = "outs"; s.outs = j.at(field).get<std::map<std::string, std::string>>();
    field = "outputs_dir"; s.outputs_dir = j.value(field, "");  // absent: written before experiments
    field = "stop_when"; s.stop_when = j.value(field, "");
    field = "run_dir"; s.run_dir = j.at(field);
    field = "scratch_dir"; s.scratch_dir = j.at(field);
    field = "cpus"; s.cpus = j.at(field);
    field = "time_limit_s"; s.time_limit_s = j.at(field);
    field = "attempt"; s.attempt = j.at(field);
    field = "sinks";
    for (const auto& sink : j.at("sinks"))
      s.sinks.push_back({sink.at("name"), sink.at("path"), sink.at("config")});
    field = "workflow_params";
    s.workflow_params = j.value("workflow_params", json::object());
    field = "cache";
    const json& cache = j.at("cache");
    s.cache_dir = cache.at("dir");
    s.cache_link = cache.at("link");
    s.cache_shared = cache.at("shared");
    s.key = cache.at("key");
    s.reuse_cached = cache.at("reuse");
    return s;
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(source + ": invalid job spec: field '" + field + "' is missing or has the wrong "
                "type (" + e.what() + ")");
  }
}

json to_json(const JobResult& r) {
  json outs = json::object();
  for (const auto& [name, o] : r.outs)
    outs[name] = {{"hash", o.hash.hex()}, {"size", o.size}, {"dir", o.is_dir}};
  return {{"outcome", std::string(sdk::outcome_name(r.outcome))},
          {"error", r.error},
          {"restored", r.restored},
          {"outs", outs},
          {"started_at", r.started_at},
          {"finished_at", r.finished_at},
          {"duration_s", r.finished_at - r.started_at},
          {"run_s", r.run_s},
          {"peak_rss_mb", r.peak_rss_mb}};
}

JobResult job_result_from_json(const json& j, const std::string& source) {
  try {
    JobResult r;
    const std::string outcome = j.at("outcome");
    const auto parsed = sdk::parse_outcome(outcome);
    if (!parsed) throw std::invalid_argument("unknown outcome '" + outcome + "'");
    r.outcome = *parsed;
    r.error = j.at("error");
    r.started_at = j.at("started_at");
    r.finished_at = j.at("finished_at");
    r.restored = j.value("restored", false);
    r.run_s = j.value("run_s", 0.0);
    r.peak_rss_mb = j.value("peak_rss_mb", 0.0);
    if (j.contains("outs"))
      for (const auto& [name, o] : j.at("outs").items())
        r.outs[name] = StoredOutput{Hash128::from_hex(o.at("hash").get<std::string>()),
                                    o.at("size"), o.at("dir")};
    return r;
  } catch (const std::exception& e) {
    throw Error(source + ": invalid job result (" + e.what() + ")");
  }
}

}  // namespace cadenza
