#include "experiment_record.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <string_view>
#include <unordered_map>

#include "error.h"
#include "fs_util.h"
#include "parallel.h"
#include "subprocess.h"

namespace cadenza {

using nlohmann::json;

namespace {

// The index keeps each metric as [last, min, max]: a third of the bytes of
// the record's objects, and far fewer allocations to parse 10,000 of them.
json summary_of(const ExperimentRecord& r) {
  json metrics = json::object();
  for (const auto& [tag, m] : r.metrics.items())
    metrics[tag] = json::array({m.value("last", json()), m.value("min", json()), m.value("max", json())});
  return {{"name", r.name},       {"overrides", r.overrides}, {"status", r.status},
          {"started", r.started}, {"finished", r.finished},   {"run_id", r.run_id},
          {"metrics", metrics}};
}

json full_metric(json m) {
  if (!m.is_array() || m.size() != 3) return m;
  return {{"last", m[0]}, {"min", m[1]}, {"max", m[2]}};
}

std::string index_path(const std::string& root) { return root + "/index.jsonl"; }

}  // namespace

json to_json(const ExperimentRecord& r) {
  json j = summary_of(r);
  j["metrics"] = r.metrics;
  j["record_version"] = kExperimentRecordVersion;
  j["workflow"] = r.workflow;
  j["params"] = r.params;
  j["git"] = {{"commit", r.git_commit}, {"dirty", r.git_dirty}};
  j["stages"] = r.stages;
  return j;
}

ExperimentRecord experiment_from_json(json j, const std::string& source) {
  auto take = [&j](const char* key) { return j.contains(key) ? std::move(j[key]) : json::object(); };
  try {
    ExperimentRecord r;
    r.name = j.at("name");
    r.overrides = take("overrides");
    r.status = j.value("status", "running");
    r.started = j.value("started", 0.0);
    r.finished = j.value("finished", 0.0);
    r.run_id = j.value("run_id", "");
    r.metrics = take("metrics");
    for (auto& [tag, m] : r.metrics.items()) m = full_metric(std::move(m));  // an index line
    r.workflow = j.value("workflow", "");
    r.params = take("params");
    r.stages = take("stages");
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
  std::string text;
  try {
    text = read_file(index_path(exps_root));
  } catch (const Error&) {
    return {};  // no experiment yet
  }
  std::vector<std::string_view> lines;
  for (size_t start = 0, nl; start < text.size(); start = nl + 1) {
    nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    if (nl > start) lines.push_back(std::string_view(text).substr(start, nl - start));
  }
  // Parsing is the cost with thousands of experiments: in parallel, in chunks.
  struct Line {
    std::string name;  // empty: torn or not an index line
    std::optional<ExperimentRecord> record;  // nullopt: removed
  };
  std::vector<Line> parsed(lines.size());
  constexpr size_t kChunk = 512;
  parallel_for((lines.size() + kChunk - 1) / kChunk, [&](size_t c) {
    for (size_t k = c * kChunk; k < std::min(lines.size(), (c + 1) * kChunk); ++k) {
      json j = json::parse(lines[k], nullptr, /*allow_exceptions=*/false);  // a torn line: discarded
      if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) continue;
      try {
        parsed[k].record = j.value("removed", false) ? std::nullopt
                           : std::optional(experiment_from_json(std::move(j), ""));
        parsed[k].name = parsed[k].record ? parsed[k].record->name : j["name"].get<std::string>();
      } catch (const Error&) {
      }
    }
  });
  std::unordered_map<std::string, size_t> at;
  std::vector<std::optional<ExperimentRecord>> rows;
  for (Line& line : parsed) {
    if (line.name.empty()) continue;
    auto [it, fresh] = at.try_emplace(std::move(line.name), rows.size());
    if (fresh) rows.push_back(std::move(line.record));
    else rows[it->second] = std::move(line.record);
  }
  std::vector<ExperimentRecord> out;
  out.reserve(rows.size());
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
  const std::string git = find_on_path("git");  // wherever the user's PATH has it (~/.local/bin, a module)
  if (git.empty()) return;
  try {
    const ProcessResult head = run_process({git, "-C", dir, "rev-parse", "HEAD"});
    if (!head.ok()) return;
    *commit = head.out.substr(0, head.out.find('\n'));
    const ProcessResult st = run_process({git, "-C", dir, "status", "--porcelain", "--untracked-files=no"});
    *dirty = st.ok() && !st.out.empty();
  } catch (const Error&) {
  }
}

}  // namespace cadenza
