#include "experiment_apply.h"

#include "toml_include.h"

#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <set>
#include <sstream>

#include "error.h"
#include "experiment_workflow.h"
#include "fs_util.h"
#include "lock_file.h"
#include "toml_limits.h"
#include "workspace_cache.h"

namespace cadenza {

using nlohmann::json;

namespace {

// Byte offset of a toml++ position (1-based line, column in code points).
size_t offset_of(const std::vector<size_t>& line_starts, const std::string& text,
                 const toml::source_position& p) {
  size_t at = line_starts.at(p.line - 1);
  for (uint32_t col = 1; col < p.column && at < text.size(); ++col) {
    ++at;
    while (at < text.size() && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80) ++at;  // UTF-8 continuation
  }
  return at;
}

struct Edit {
  size_t at, length;
  std::string with;
};

// A JSON value as TOML: JSON's numbers, bools, strings and arrays of them
// are valid TOML as they are printed.
std::string toml_text(const json& v) { return v.dump(); }

}  // namespace

std::string write_overrides_into_toml(const std::string& text, const std::string& file,
                                      const json& overrides) {
  toml::table root;
  try {
    check_toml_limits(text, file);
    root = toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    throw Error(file + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description()));
  }
  std::vector<size_t> line_starts{0};
  for (size_t i = 0; i < text.size(); ++i)
    if (text[i] == '\n') line_starts.push_back(i + 1);
  std::vector<Edit> edits;
  for (const auto& [target, value] : overrides.items()) {
    const size_t dot = target.find('.');
    const std::string scope = target.substr(0, dot), key = target.substr(dot + 1);
    toml::table* params = nullptr;
    toml::table* stage = nullptr;
    if (scope == "params") {
      params = root["params"].as_table();
    } else {
      stage = root["stages"][scope].as_table();
      if (!stage) throw Error(file + ": no [stages." + scope + "] to write " + target + " into");
      params = (*stage)["params"].as_table();
    }
    if (!params && scope == "params") throw Error(file + ": no [params] table to write " + target + " into");
    if (params && params->get(key)) {
      const toml::source_region& r = params->get(key)->source();
      const size_t a = offset_of(line_starts, text, r.begin), b = offset_of(line_starts, text, r.end);
      edits.push_back({a, b - a, toml_text(value)});
    } else if (params && params->is_inline()) {
      const size_t end = offset_of(line_starts, text, params->source().end);
      size_t at = text.rfind('}', end);
      while (at > 0 && (text[at - 1] == ' ' || text[at - 1] == '\t')) --at;  // "2 }": after the 2
      const bool empty = params->empty();
      edits.push_back({at, 0, std::string(empty ? " " : ", ") + key + " = " + toml_text(value) + (empty ? " " : "")});
    } else {
      // A [stages.x.params] table, or none yet: a new line after the header.
      const toml::table* under = params ? params : stage;
      const size_t line_end = text.find('\n', offset_of(line_starts, text, under->source().begin));
      const std::string line = params ? key + " = " + toml_text(value)
                                      : "params = { " + key + " = " + toml_text(value) + " }";
      edits.push_back({line_end == std::string::npos ? text.size() : line_end + 1, 0, line + "\n"});
    }
  }
  std::sort(edits.begin(), edits.end(), [](const Edit& x, const Edit& y) { return x.at > y.at; });
  std::string out = text;
  for (const auto& e : edits) out.replace(e.at, e.length, e.with);
  return out;
}

void apply_experiment(const std::string& workflow_path, const ExperimentRecord& experiment,
                      std::ostream& out) {
  const std::string before = read_file(workflow_path);
  const std::string after = write_overrides_into_toml(before, workflow_path, experiment.overrides);
  if (after != before) {
    write_file_atomic(workflow_path, after, Durability::kFsync);
    out << workflow_path << ": wrote " << experiment.overrides.size() << " param(s) of experiment "
        << experiment.name << " (" << experiment.overrides.dump() << ")\n";
  }
  auto pw = PreparedWorkflow::load(workflow_path);  // checks what was written, too
  WorkspaceCache cache(pw->workflow());
  size_t restored = 0, missing = 0;
  for (size_t i : pw->graph().order()) {
    const PreparedStage& stage = pw->stage(i);
    const StageFingerprint fp = cache.fingerprint(stage);
    if (cache.reasons_to_run(stage, fp).empty()) continue;  // already in place
    auto record = cache.cached_run(fp.key);
    if (!record) {
      out << stage.decl->name << ": not in the cache (the experiment did not finish it); `cadenza run` runs it\n";
      ++missing;
      break;  // what needs it cannot be fingerprinted before it exists
    }
    cache.restore(stage, *record);
    cache.record(stage, fp, record->outs, /*restored=*/true);
    ++restored;
  }
  cache.save();
  out << "experiment " << experiment.name << " applied: " << restored << " stage(s) restored from the cache"
      << (missing ? "; some stages still have to run" : "; `cadenza status` reports it up to date") << "\n";
}

namespace {

std::string logical(const std::string& path, const std::string& name) {
  const std::string prefix = experiment_outputs_dir(name) + "/";
  return path.rfind(prefix, 0) == 0 ? path.substr(prefix.size()) : path;
}

std::string cell(const json& v) { return v.is_null() ? "-" : v.is_string() ? v.get<std::string>() : v.dump(); }

void row(std::ostream& out, const std::string& label, const std::string& a, const std::string& b, size_t width) {
  out << "  " << std::left << std::setw(static_cast<int>(width)) << label << "  " << std::setw(14) << a << "  " << b << "\n";
}

std::vector<std::string> stage_reasons(const LockEntry& a, const LockEntry& b, const std::string& an,
                                       const std::string& bn) {
  std::vector<std::string> why;
  if (a.plugin_name != b.plugin_name || a.plugin_version != b.plugin_version)
    why.push_back("plugin " + a.plugin_name + " " + a.plugin_version + " vs " + b.plugin_name + " " + b.plugin_version);
  else if (a.plugin_hash != b.plugin_hash)
    why.push_back("plugin binary differs (rebuilt between the two)");
  std::set<std::string> keys;
  for (const auto& [k, v] : a.params.items()) keys.insert(k);
  for (const auto& [k, v] : b.params.items()) keys.insert(k);
  for (const auto& k : keys) {
    const json x = a.params.value(k, json()), y = b.params.value(k, json());
    if (x != y) why.push_back("param " + k + " " + cell(x) + " vs " + cell(y));
  }
  for (const auto& [n, dep] : a.deps) {
    auto it = b.deps.find(n);
    if (it == b.deps.end()) why.push_back("dep " + n + " only in " + an);
    else if (it->second.hash != dep.hash) why.push_back("input " + logical(dep.path, an) + " differs (" +
                                                        dep.hash.hex().substr(0, 8) + " vs " + it->second.hash.hex().substr(0, 8) + ")");
  }
  for (const auto& [n, dep] : b.deps)
    if (!a.deps.count(n)) why.push_back("dep " + n + " only in " + bn);
  if (why.empty()) why.push_back("stage definition differs (container image or outs)");
  return why;
}

}  // namespace

void print_experiment_diff(const std::string& workflow_path, const ExperimentRecord& a,
                           const ExperimentRecord& b, std::ostream& out) {
  size_t width = 10;
  std::set<std::string> params;
  for (const auto& [stage, p] : a.params.items())
    for (const auto& [k, v] : p.items()) params.insert(stage + "." + k);
  for (const auto& [stage, p] : b.params.items())
    for (const auto& [k, v] : p.items()) params.insert(stage + "." + k);
  std::set<std::string> tags;
  for (const auto& [t, m] : a.metrics.items()) tags.insert(t);
  for (const auto& [t, m] : b.metrics.items()) tags.insert(t);
  for (const auto& p : params) width = std::max(width, p.size());
  for (const auto& t : tags) width = std::max(width, t.size());
  out << "params that differ:\n";
  row(out, "", a.name, b.name, width);
  size_t differing = 0;
  for (const auto& p : params) {
    const size_t dot = p.find('.');
    const json pa = a.params.value(p.substr(0, dot), json::object()).value(p.substr(dot + 1), json());
    const json pb = b.params.value(p.substr(0, dot), json::object()).value(p.substr(dot + 1), json());
    if (pa != pb) row(out, p, cell(pa), cell(pb), width), ++differing;
  }
  if (!differing) out << "  (none)\n";
  out << "metrics (last value):\n";
  for (const auto& t : tags)
    row(out, t, cell(a.metrics.value(t, json::object()).value("last", json())),
        cell(b.metrics.value(t, json::object()).value("last", json())), width);
  out << "stages:\n";
  const std::string workspace = workflow_workspace_dir(workflow_path);
  const LockFile la(lock_file_for(workflow_path, experiment_dir(workspace, a.name))),
      lb(lock_file_for(workflow_path, experiment_dir(workspace, b.name)));
  std::set<std::string> stages;
  for (const auto& [s, e] : la.stages()) stages.insert(s);
  for (const auto& [s, e] : lb.stages()) stages.insert(s);
  for (const auto& s : stages) {
    const LockEntry* ea = la.find(s);
    const LockEntry* eb = lb.find(s);
    out << "  " << std::left << std::setw(static_cast<int>(width)) << s << "  ";
    if (!ea || !eb) out << "completed only in " << (ea ? a.name : b.name) << "\n";
    else if (ea->key == eb->key) out << "identical: one cache entry (key " << ea->key.hex().substr(0, 12) << ")\n";
    else {
      std::string joined;
      for (const auto& w : stage_reasons(*ea, *eb, a.name, b.name)) joined += (joined.empty() ? "" : "; ") + w;
      out << "differs: " << joined << "\n";
    }
  }
}

}  // namespace cadenza
