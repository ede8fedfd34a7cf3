#include "experiment_record.h"

#include <filesystem>
#include <fstream>
#include <map>

#include "error.h"
#include "fs_util.h"
#include "subprocess.h"

namespace cadenza {

using nlohmann::json;

namespace {

json summary_of(const ExperimentRecord& r) {
  return {{"name", r.name},         {"overrides", r.overrides}, {"status", r.status},
          {"started", r.started},   {"finished", r.finished},   {"run_id", r.run_id},
          {"metrics", r.metrics}};
}

std::string index_path(const std::string& root) { return root + "/index.jsonl"; }

}  // namespace

json to_json(const ExperimentRecord& r) {
  json j = summary_of(r);
  j["record_version"] = kExperimentRecordVersion;
  j["workflow"] = r.workflow;
  j["params"] = r.params;
  j["git"] = {{"commit", r.git_commit}, {"dirty", r.git_dirty}};
  j["stages"] = r.stages;
  return j;
}

ExperimentRecord experiment_from_json(const json& j, const std::string& source) {
  try {
    ExperimentRecord r;
    r.name = j.at("name");
    r.overrides = j.value("overrides", json::object());
    r.status = j.value("status", "running");
    r.started = j.value("started", 0.0);
    r.finished = j.value("finished", 0.0);
    r.run_id = j.value("run_id", "");
    r.metrics = j.value("metrics", json::object());
    r.workflow = j.value("workflow", "");
    r.params = j.value("params", json::object());
    r.stages = j.value("stages", json::object());
    if (j.contains("git")) {
      r.git_commit = j["git"].value("commit", "");
      r.git_dirty = j["git"].value("dirty", false);
    }
    return r;
  } catch (const json::exception& e) {
    throw Error(source + ": not a valid experiment record (" + e.what() + ")");
  }
}

void save_experiment(const std::string& exps_root, const ExperimentRecord& r) {
  const std::string dir = exps_root + "/" + r.name;
  std::filesystem::create_directories(dir);
  write_file_atomic(dir + "/experiment.json", to_json(r).dump(2), Durability::kRenameOnly);
  append_log_line(index_path(exps_root), summary_of(r).dump());
}

std::optional<ExperimentRecord> load_experiment_record(const std::string& exps_root,
                                                       const std::string& name) {
  const std::string path = exps_root + "/" + name + "/experiment.json";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::nullopt;
  try {
    return experiment_from_json(json::parse(read_file(path)), path);
  } catch (const json::exception& e) {
    throw Error(path + ": not valid JSON (" + e.what() + "); restore it or `cadenza exp remove " + name + "`");
  }
}

std::vector<ExperimentRecord> read_index(const std::string& exps_root) {
  std::ifstream in(index_path(exps_root));
  std::map<std::string, size_t> at;
  std::vector<std::optional<ExperimentRecord>> rows;
  for (std::string line; std::getline(in, line);) {
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) continue;  // a torn line
    const std::string name = j["name"];
    std::optional<ExperimentRecord> row;
    if (!j.value("removed", false)) {
      try {
        row = experiment_from_json(j, index_path(exps_root));
      } catch (const Error&) {
        continue;
      }
    }
    auto it = at.find(name);
    if (it == at.end()) {
      at[name] = rows.size();
      rows.push_back(std::move(row));
    } else {
      rows[it->second] = std::move(row);
    }
  }
  std::vector<ExperimentRecord> out;
  for (auto& r : rows)
    if (r) out.push_back(std::move(*r));
  return out;
}

void mark_removed(const std::string& exps_root, const std::string& name) {
  append_log_line(index_path(exps_root), json{{"name", name}, {"removed", true}}.dump());
}

void describe_git(const std::string& dir, std::string* commit, bool* dirty) {
  commit->clear();
  *dirty = false;
  for (const char* git : {"/usr/bin/git", "/usr/local/bin/git"}) {
    std::error_code ec;
    if (!std::filesystem::exists(git, ec)) continue;
    try {
      const ProcessResult head = run_process({git, "-C", dir, "rev-parse", "HEAD"});
      if (!head.ok()) return;
      *commit = head.out.substr(0, head.out.find('\n'));
      const ProcessResult st = run_process({git, "-C", dir, "status", "--porcelain", "--untracked-files=no"});
      *dirty = st.ok() && !st.out.empty();
    } catch (const Error&) {
    }
    return;
  }
}

}  // namespace cadenza
