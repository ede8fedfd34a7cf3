#include "dvc_adopt.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "dvc_pipeline.h"
#include "error.h"
#include "params_file.h"
#include "prepared_workflow.h"
#include "run_cache.h"
#include "subprocess.h"
#include "wall_clock.h"
#include "workspace_cache.h"

namespace cadenza {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// md5 of each file, with coreutils' md5sum (one process per 500 files).
std::map<std::string, std::string> md5_of_files(const std::vector<std::string>& files) {
  std::map<std::string, std::string> out;
  for (size_t start = 0; start < files.size(); start += 500) {
    std::vector<std::string> argv{"md5sum", "--"};
    for (size_t i = start; i < std::min(files.size(), start + 500); ++i) argv.push_back(files[i]);
    const ProcessResult r = run_process(argv);
    if (!r.ok()) throw Error("md5sum failed (" + r.describe() + "): " + r.err);
    size_t k = start;
    for (size_t pos = 0; pos < r.out.size() && k < files.size(); ++k) {
      const size_t nl = r.out.find('\n', pos);
      out[files[k]] = r.out.substr(pos + (r.out[pos] == '\\'), 32);  // "\" marks an escaped name
      pos = nl == std::string::npos ? r.out.size() : nl + 1;
    }
  }
  return out;
}

std::string md5_of_text(const std::string& text) {
  const ProcessResult r = run_process_with_input({"md5sum"}, text);
  if (!r.ok()) throw Error("md5sum failed (" + r.describe() + "): " + r.err);
  return r.out.substr(0, 32);
}

struct LockedPath {
  std::string path, md5;
};

std::vector<LockedPath> locked_paths(const YAML::Node& list) {
  std::vector<LockedPath> out;
  if (!list || !list.IsSequence()) return out;
  for (const auto& e : list) out.push_back({e["path"].as<std::string>(""), e["md5"].as<std::string>("")});
  return out;
}

// Why this stage's recorded state is not the workspace's, or "".
std::string mismatch(const YAML::Node& entry, const std::string& root, const std::string& wdir) {
  for (const char* kind : {"outs", "deps"}) {
    for (const auto& p : locked_paths(entry[kind])) {
      const std::string rel = dvc_path(wdir, p.path);
      if (!fs::exists(root + "/" + rel)) return std::string(kind == std::string("outs") ? "out " : "dep ") + rel + " is missing";
      if (dvc_md5(root + "/" + rel) != p.md5)
        return std::string(kind == std::string("outs") ? "out " : "dep ") + rel +
               " differs from what dvc.lock recorded (edited since DVC ran the stage?)";
    }
  }
  if (const YAML::Node params = entry["params"])
    for (const auto& file : params) {
      const std::string rel = dvc_path(wdir, file.first.as<std::string>());
      const ParamsFile now = ParamsFile::read(root + "/" + rel, rel);
      for (const auto& kv : file.second) {
        const std::string key = kv.first.as<std::string>();
        if (!now.has(key) || now.value(key) != yaml_to_json(kv.second))
          return "param " + rel + ":" + key + " is not what dvc.lock recorded";
      }
    }
  return "";
}

}  // namespace

std::string dvc_md5(const std::string& path) {
  if (!fs::is_directory(path)) return md5_of_files({path}).at(path);
  std::vector<std::pair<std::string, std::string>> entries;  // relpath, full path
  for (const auto& e : fs::recursive_directory_iterator(path))
    if (e.is_regular_file()) entries.emplace_back(e.path().lexically_relative(path).generic_string(), e.path().string());
  std::sort(entries.begin(), entries.end());
  std::vector<std::string> full;
  for (const auto& e : entries) full.push_back(e.second);
  const auto sums = md5_of_files(full);
  // json.dumps(sorted entries, sort_keys=True): ", " and ": ", ASCII-escaped.
  std::string listing = "[";
  for (size_t i = 0; i < entries.size(); ++i)
    listing += (i ? ", " : "") + std::string("{\"md5\": ") + json(sums.at(entries[i].second)).dump() +
               ", \"relpath\": " + json(entries[i].first).dump(-1, ' ', true) + "}";
  return md5_of_text(listing + "]") + ".dir";
}

AdoptResult adopt_dvc_outputs(const std::string& workflow_toml, const std::string& dvc_lock,
                              const std::vector<ImportedStage>& stages) {
  YAML::Node lock;
  try {
    lock = YAML::LoadFile(dvc_lock);
  } catch (const YAML::Exception& e) {
    throw Error(dvc_lock + ":" + std::to_string(e.mark.line + 1) + ": not valid YAML: " + e.msg);
  }
  auto pw = PreparedWorkflow::load(workflow_toml);
  const Workflow& wf = pw->workflow();
  WorkspaceCache cache(wf);
  RunCache runs(wf.cache_dir, wf.cache_shared);
  AdoptResult result;
  for (size_t i : pw->graph().order()) {
    const PreparedStage& stage = pw->stage(i);
    const auto it = std::find_if(stages.begin(), stages.end(),
                                 [&](const ImportedStage& s) { return s.name == stage.decl->name; });
    if (it == stages.end()) continue;
    const YAML::Node entry = lock["stages"][it->dvc_name];
    std::string why = !entry ? "not in dvc.lock (DVC never ran it)" : mismatch(entry, wf.workspace, it->wdir);
    if (why.empty() && std::any_of(result.left_to_run.begin(), result.left_to_run.end(), [&](const std::string& l) {
          for (size_t u : pw->graph().upstream(i))
            if (l.rfind(pw->stage(u).decl->name + ":", 0) == 0) return true;
          return false;
        }))
      why = "a stage it needs is left to run";
    if (!why.empty()) {
      result.left_to_run.push_back(stage.decl->name + ": " + why);
      continue;
    }
    const StageFingerprint fp = cache.fingerprint(stage);
    RunRecord record;
    record.key = fp.key;
    record.stage = stage.decl->name;
    record.plugin = stage.plugin.name;
    record.created = wall_clock_s();
    std::map<std::string, StoredOutput> outs;
    for (const auto& [name, out] : stage.decl->outs) {
      outs[name] = cache.store().store(wf.workspace + "/" + out.path, wf.workspace, cache.link_mode());
      record.outs[name] = outs[name];
      record.paths[name] = out.path;
    }
    runs.put(record);
    cache.record(stage, fp, outs, false);
    result.adopted.push_back(stage.decl->name);
  }
  cache.save();
  return result;
}

}  // namespace cadenza
