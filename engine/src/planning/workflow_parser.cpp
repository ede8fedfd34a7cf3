#include "workflow_parser.h"

#include "cadenza/sdk/units.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>
#include <sstream>
#include "toml_include.h"

#include "condition.h"
#include "params_file.h"
#include "toml_limits.h"
#include "toml_values.h"
#include "fs_util.h"
#include "remote.h"

namespace cadenza {

namespace {

using nlohmann::json;

SourcePos pos_of(const toml::node& node, const std::string& file) {
  const auto& src = node.source();
  return SourcePos{file, static_cast<int>(src.begin.line), static_cast<int>(src.begin.column)};
}

// The node's type with its article, for "must be a string, not an integer".
const char* type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a bool";
    default: return "a date/time";
  }
}

// Parses one workflow.toml; holds the file name for messages.
class Parser {
 public:
  Parser(std::string file, std::string workspace) : file_(std::move(file)) {
    wf_.file = file_;
    wf_.workspace = std::move(workspace);
  }

  Workflow parse(const toml::table& root) {
    check_keys(root, "the top level",
               {"workflow", "params", "backends", "sinks", "stages", "experiments", "container"});
    if (auto* node = root.get("workflow")) parse_workflow_table(table_at(*node, "[workflow]"));
    if (auto* node = root.get("container")) wf_.container = parse_container(*node, "[container]", std::nullopt);
    if (wf_.name.empty())
      wf_.name = std::filesystem::path(wf_.workspace).filename().string();
    if (wf_.experiment.empty()) wf_.experiment = wf_.name;
    if (wf_.cache_dir.empty()) wf_.cache_dir = wf_.workspace + "/.cadenza/cache";
    if (auto* node = root.get("params")) {
      for (auto&& [key, value] : table_at(*node, "[params]"))
        wf_.shared_params[std::string(key.str())] = ValueAt{toml_to_json(value), pos_of(value, file_)};
    }
    if (auto* node = root.get("backends"))
      for (auto&& [key, value] : table_at(*node, "[backends]"))
        wf_.backend_configs[full_plugin_name("backend", std::string(key.str()))] =
            toml_to_json(table_at(value, "[backends." + std::string(key.str()) + "]"));
    if (auto* node = root.get("sinks"))
      for (auto&& [key, value] : table_at(*node, "[sinks]"))
        wf_.sink_configs[full_plugin_name("sink", std::string(key.str()))] =
            toml_to_json(table_at(value, "[sinks." + std::string(key.str()) + "]"));
    if (auto* node = root.get("experiments")) {
      const toml::table& t = table_at(*node, "[experiments]");
      check_keys(t, "[experiments]", {"metrics", "maximize"});
      if (auto* m = t.get("metrics")) wf_.exp_metrics = strings_at(*m, "experiments.metrics");
      if (auto* m = t.get("maximize")) wf_.exp_maximize = strings_at(*m, "experiments.maximize");
    }
    const toml::node* stages = root.get("stages");
    if (!stages || table_at(*stages, "[stages]").empty())
      throw Error(file_ + ": the workflow declares no stages; add at least one [stages.<name>] "
                          "table with a plugin");
    for (auto&& [key, value] : table_at(*stages, "[stages]"))
      wf_.stages.push_back(parse_stage(std::string(key.str()), value));
    std::stable_sort(wf_.stages.begin(), wf_.stages.end(), [](const auto& a, const auto& b) {
      return a.pos.line < b.pos.line;
    });
    return std::move(wf_);
  }

 private:
  [[noreturn]] void fail(const toml::node& node, const std::string& message) const {
    throw Error(pos_of(node, file_).str() + ": " + message);
  }

  const toml::table& table_at(const toml::node& node, const std::string& what) const {
    if (!node.is_table()) fail(node, what + " must be a table, not " + type_name(node));
    return *node.as_table();
  }

  std::string string_at(const toml::node& node, const std::string& what) const {
    if (!node.is_string()) fail(node, what + " must be a string, not " + type_name(node));
    return node.value<std::string>().value();
  }

  int retries_at(const toml::node& node, const std::string& what) const {
    if (!node.is_integer() || node.value<int64_t>().value() < 0 ||
        node.value<int64_t>().value() > 100)
      fail(node, what + " must be an integer from 0 to 100 (further attempts after a failure)");
    return static_cast<int>(node.value<int64_t>().value());
  }

  double factor_at(const toml::node& node, const std::string& what) const {
    const auto v = node.value<double>();  // integers convert too
    if (!(node.is_integer() || node.is_floating_point()) || !v || !(*v >= 1.0 && *v <= 100.0))
      fail(node, what + " must be a number from 1 to 100 (how much more a retry asks for)");
    return *v;
  }

  std::vector<std::string> strings_at(const toml::node& node, const std::string& what) const {
    if (!node.is_array()) fail(node, what + " must be an array of strings");
    std::vector<std::string> out;
    for (auto&& item : *node.as_array()) out.push_back(string_at(item, what + " entries"));
    return out;
  }

  void check_keys(const toml::table& table, const std::string& where,
                  const std::set<std::string>& known) const {
    for (auto&& [key, value] : table) {
      if (known.count(std::string(key.str()))) continue;
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      throw Error(SourcePos{file_, static_cast<int>(key.source().begin.line),
                            static_cast<int>(key.source().begin.column)}
                      .str() +
                  ": unknown key '" + std::string(key.str()) + "' in " + where +
                  " (known keys: " + list + ")");
    }
  }

  // An out must not overwrite the workflow file or its lock.
  void check_not_own_files(const StageDecl& stage) const {
    const std::string file = std::filesystem::path(file_).filename().string();
    const std::string lock = std::filesystem::path(lock_file_for(file_, wf_.workspace)).filename().string();
    for (const auto& [n, out] : stage.outs)
      if (out.path == file || out.path == lock)
        throw Error(out.pos.str() + ": stage '" + stage.name + "' out '" + n + "' is " + out.path +
                    ", the workflow's own file; write outputs elsewhere (e.g. out/" + n + ")");
  }

  // A container table, on top of `base` (the workflow's, for a stage).
  ContainerDecl parse_container(const toml::node& node, const std::string& where,
                                const std::optional<ContainerDecl>& base) const {
    if (node.is_boolean()) fail(node, where + " = true means nothing: give a table with an image, or false for none");
    const toml::table& t = table_at(node, where);
    check_keys(t, where, {"image", "runtime", "binds", "extra_args", "cadenza"});
    ContainerDecl c = base.value_or(ContainerDecl{});
    c.pos = pos_of(node, file_);
    if (auto* v = t.get("image")) set_image(c, *v, where + ".image");
    if (auto* v = t.get("runtime")) {
      c.runtime = string_at(*v, where + ".runtime");
      static const std::set<std::string> known{"apptainer", "singularity", "charliecloud", "podman"};
      if (!known.count(c.runtime))
        fail(*v, where + ".runtime '" + c.runtime + "' is not one Cadenza knows (apptainer, singularity, "
                 "charliecloud, podman)");
    }
    if (auto* v = t.get("binds")) c.binds = strings_at(*v, where + ".binds");
    if (auto* v = t.get("extra_args")) c.extra_args = strings_at(*v, where + ".extra_args");
    if (auto* v = t.get("cadenza")) {
      c.cadenza = string_at(*v, where + ".cadenza");
      if (c.cadenza != "image" && c.cadenza != "host")
        fail(*v, where + ".cadenza must be \"image\" (the image carries this Cadenza at the same path) or "
                 "\"host\" (bind the host's Cadenza in)");
    }
    if (c.image.empty()) fail(node, where + " has no image; add image = \"<file.sif | directory | docker://…@sha256:…>\"");
    return c;
  }

  // A file or directory image is a path (relative to the workspace); an OCI
  // reference must name a digest, because a tag can move without anything
  // Cadenza could see and the cache key would lie.
  void set_image(ContainerDecl& c, const toml::node& node, const std::string& what) const {
    c.image_as_written = string_at(node, what);
    if (c.image_as_written.empty()) fail(node, what + " must not be empty");
    const bool reference = c.image_as_written.find("://") != std::string::npos ||
                           c.image_as_written.find("@sha256:") != std::string::npos;
    c.image_is_reference = reference;
    if (!reference) {
      c.image = dir_path(node, what);
      return;
    }
    const auto at = c.image_as_written.find("@sha256:");
    if (at == std::string::npos || c.image_as_written.size() - at - 8 != 64)
      fail(node, what + " '" + c.image_as_written + "' is a tag, which can move without Cadenza seeing it: "
                 "pin its digest (docker://name@sha256:<64 hex digits>), or use a .sif, SquashFS or directory image");
    c.image = c.image_as_written;
  }

  std::string workspace_path(const toml::node& node, const std::string& what) const {
    std::string raw = string_at(node, what);
    if (raw.find('\0') != std::string::npos) fail(node, what + " contains a NUL byte, which no path can hold");
    std::string norm = normalize_relative(raw);
    if (norm.empty() || norm == ".cadenza" || path_within(norm, ".cadenza"))
      fail(node, what + " '" + raw +
                     "' must be a relative path inside the workspace (" + wf_.workspace +
                     "), not absolute, not leaving it with '..', not the workspace itself "
                     "and not under .cadenza/");
    return norm;
  }

  std::string dir_path(const toml::node& node, const std::string& what) const {
    std::string raw = string_at(node, what);
    std::filesystem::path p(raw);
    if (p.is_relative()) p = std::filesystem::path(wf_.workspace) / p;
    return p.lexically_normal().string();
  }

  void parse_workflow_table(const toml::table& table) {
    check_keys(table, "[workflow]",
               {"name", "experiment", "backend", "sinks", "plugin_paths", "cache_dir",
                "cache_link", "cache_shared", "remote", "retries", "retry_mem_factor",
                "retry_time_factor"});
    for (auto&& [key, value] : table) {
      const std::string k(key.str());
      if (k == "name") wf_.name = string_at(value, "workflow.name");
      if (k == "experiment") wf_.experiment = string_at(value, "workflow.experiment");
      if (k == "backend")
        wf_.backend = full_plugin_name("backend", string_at(value, "workflow.backend"));
      if (k == "sinks")
        for (auto& s : strings_at(value, "workflow.sinks"))
          wf_.sinks.push_back(full_plugin_name("sink", s));
      if (k == "plugin_paths") {
        strings_at(value, "workflow.plugin_paths");  // checks the type
        for (auto&& item : *value.as_array())
          wf_.plugin_paths.push_back(dir_path(item, "workflow.plugin_paths entries"));
      }
      if (k == "retries") wf_.retry.retries = retries_at(value, "workflow.retries");
      if (k == "retry_mem_factor")
        wf_.retry.mem_factor = factor_at(value, "workflow.retry_mem_factor");
      if (k == "retry_time_factor")
        wf_.retry.time_factor = factor_at(value, "workflow.retry_time_factor");
      if (k == "cache_dir") wf_.cache_dir = dir_path(value, "workflow.cache_dir");
      if (k == "remote") {
        // As written: a directory (relative to the workspace) or an ssh
        // address; checked now so that a typo is a file:line error.
        wf_.remote = string_at(value, "workflow.remote");
        try {
          parse_remote_address(wf_.remote, wf_.workspace);
        } catch (const Error& e) {
          fail(value, "workflow." + std::string(e.what()));
        }
      }
      if (k == "cache_link") {
        wf_.cache_link = string_at(value, "workflow.cache_link");
        static const std::set<std::string> modes{"auto", "reflink", "hardlink", "copy"};
        if (!modes.count(wf_.cache_link))
          fail(value, "workflow.cache_link must be one of auto, reflink, hardlink, copy (got '" +
                          wf_.cache_link + "')");
      }
      if (k == "cache_shared") {
        if (!value.is_boolean()) fail(value, "workflow.cache_shared must be true or false");
        wf_.cache_shared = value.value<bool>().value();
      }
    }
  }

  std::map<std::string, PathDecl> parse_paths(const toml::node& node, const std::string& what) {
    std::map<std::string, PathDecl> out;
    if (node.is_array()) {  // deps = ["a", "b"]: named by position
      int i = 0;
      for (auto&& item : *node.as_array())
        out[std::to_string(i++)] = PathDecl{workspace_path(item, what), pos_of(item, file_)};
      return out;
    }
    for (auto&& [key, value] : table_at(node, what))
      out[std::string(key.str())] =
          PathDecl{workspace_path(value, what + "." + std::string(key.str())),
                   pos_of(value, file_)};
    return out;
  }

  // params_files = { "params.yaml" = ["train.lr", "model.hidden"] }: the keys
  // of each file the stage depends on ([] for all of the file's values).
  std::vector<ParamsFileKeys> parse_params_files(const toml::node& node, const std::string& where) {
    std::vector<ParamsFileKeys> out;
    for (auto&& [key, value] : table_at(node, where)) {
      const std::string raw(key.str());
      const std::string path = normalize_relative(raw);
      if (path.empty() || path == ".cadenza" || path_within(path, ".cadenza"))
        fail(value, where + ": '" + raw + "' must be a relative path inside the workspace, not under .cadenza/");
      if (!ParamsFile::known_format(path))
        fail(value, where + ": '" + raw + "' is not a params file Cadenza reads; name a .yaml, .yml, .json "
                    "or .toml file");
      ParamsFileKeys f{path, strings_at(value, where + "." + raw), pos_of(value, file_)};
      for (const auto& k : f.keys)
        if (k.empty() || k.front() == '.' || k.back() == '.' || k.find("..") != std::string::npos)
          fail(value, where + "." + raw + ": '" + k + "' is not a key; write dotted keys like \"train.lr\"");
      out.push_back(std::move(f));
    }
    return out;
  }

  ResourceDecl parse_resources(const toml::table& table, const std::string& where) {
    check_keys(table, where, {"cpus", "gpus", "mem", "time"});
    ResourceDecl r;
    for (auto&& [key, value] : table) {
      const std::string k(key.str());
      ValueAt v{toml_to_json(value), pos_of(value, file_)};
      if (k == "cpus" || k == "gpus") {
        const int64_t low = k == "cpus" ? 1 : 0, high = k == "cpus" ? 65536 : 1024;
        if (!value.is_integer() || value.value<int64_t>().value() < low ||
            value.value<int64_t>().value() > high)
          fail(value, where + "." + k + " must be an integer from " + std::to_string(low) +
                          " to " + std::to_string(high));
        (k == "cpus" ? r.cpus : r.gpus) = static_cast<int>(value.value<int64_t>().value());
      }
      if (k == "mem") r.mem_bytes = parse_memory_size(v, where + ".mem");
      if (k == "time") r.time_limit_s = parse_duration_s(v, where + ".time");
    }
    return r;
  }

  StageDecl parse_stage(const std::string& name, const toml::node& node) {
    const std::string where = "[stages." + name + "]";
    const toml::table& table = table_at(node, where);
    StageDecl stage;
    stage.name = name;
    stage.pos = pos_of(node, file_);
    if (name.empty()) fail(node, "a stage needs a name: [stages.\"\"] is empty; use letters, digits, '_' and '-'");
    for (char c : name)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-')
        fail(node, "stage name '" + name + "' may use only letters, digits, '_' and '-'");
    if (name == "params")
      fail(node, "a stage may not be named 'params': `--set params.<name>=...` sets the shared [params], "
                 "so this stage's params could not be overridden; rename it (e.g. 'make_params')");
    check_keys(table, where,
               {"plugin", "description", "params", "deps", "outs", "resources", "backend",
                "backend_config", "sinks", "container", "retries", "retry_mem_factor",
                "retry_time_factor", "stop_when", "params_files"});
    stage.container = wf_.container;
    const toml::node* plugin = table.get("plugin");
    if (!plugin) fail(node, "stage '" + name + "' has no plugin; add plugin = \"stage_<name>\"");
    stage.plugin = full_plugin_name("stage", string_at(*plugin, where + ".plugin"));
    stage.plugin_pos = pos_of(*plugin, file_);
    for (auto&& [key, value] : table) {
      const std::string k(key.str());
      if (k == "description") stage.description = string_at(value, where + ".description");
      if (k == "container") {
        if (value.is_boolean() && !value.value<bool>().value()) stage.container.reset();
        else stage.container = parse_container(value, where + ".container", wf_.container);
      }
      if (k == "stop_when") {
        stage.stop_when = string_at(value, where + ".stop_when");
        Condition::parse(stage.stop_when, pos_of(value, file_).str() + ": " + where + ".stop_when");  // checked now
      }
      if (k == "retries") stage.retries = retries_at(value, where + ".retries");
      if (k == "retry_mem_factor")
        stage.retry_mem_factor = factor_at(value, where + ".retry_mem_factor");
      if (k == "retry_time_factor")
        stage.retry_time_factor = factor_at(value, where + ".retry_time_factor");
      if (k == "params")
        for (auto&& [pk, pv] : table_at(value, where + ".params"))
          stage.params[std::string(pk.str())] = ValueAt{toml_to_json(pv), pos_of(pv, file_)};
      if (k == "params_files") stage.params_files = parse_params_files(value, where + ".params_files");
      if (k == "deps") stage.deps = parse_paths(value, "stage '" + name + "' deps");
      if (k == "outs") {
        stage.outs = parse_paths(value, "stage '" + name + "' outs");
        check_not_own_files(stage);
      }
      if (k == "resources")
        stage.resources = parse_resources(table_at(value, where + ".resources"),
                                          "stage '" + name + "' resources");
      if (k == "backend")
        stage.backend = full_plugin_name("backend", string_at(value, where + ".backend"));
      if (k == "backend_config")
        stage.backend_config = toml_to_json(table_at(value, where + ".backend_config"));
      if (k == "sinks") {
        std::vector<std::string> sinks;
        for (auto& s : strings_at(value, where + ".sinks"))
          sinks.push_back(full_plugin_name("sink", s));
        stage.sinks = std::move(sinks);
      }
    }
    if (stage.outs.empty())
      fail(node, "stage '" + name +
                     "' declares no outs; every stage must write at least one output "
                     "(outs = { name = \"path\" })");
    return stage;
  }

  std::string file_;
  Workflow wf_;
};

}  // namespace

std::string full_plugin_name(const std::string& kind, const std::string& name) {
  // A name that already carries any kind's prefix is kept, so that using a
  // backend as a stage reports the kind mismatch rather than "not found".
  for (const char* prefix : {"stage_", "backend_", "sink_"})
    if (name.rfind(prefix, 0) == 0) return name;
  return kind + "_" + name;
}

std::string Workflow::state_dir() const {
  return experiment_state_dir.empty() ? workspace + "/.cadenza" : experiment_state_dir;
}

std::string Workflow::lock_path() const {
  return lock_file_for(file, experiment_state_dir.empty() ? workspace : experiment_state_dir);
}

std::string lock_file_for(const std::string& workflow_file, const std::string& dir) {
  return dir + "/" + std::filesystem::path(workflow_file).stem().string() + ".lock";
}

std::string workflow_workspace_dir(const std::string& path) {
  return std::filesystem::absolute(path).lexically_normal().parent_path().string();
}

std::string workflow_state_dir(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) parse_workflow_file(path);  // throws the usual message
  return workflow_workspace_dir(path) + "/.cadenza";
}

const StageDecl* Workflow::find_stage(const std::string& name) const {
  for (const auto& s : stages)
    if (s.name == name) return &s;
  return nullptr;
}

const std::string& Workflow::backend_for(const StageDecl& stage) const {
  return stage.backend ? *stage.backend : backend;
}

const std::vector<std::string>& Workflow::sinks_for(const StageDecl& stage) const {
  return stage.sinks ? *stage.sinks : sinks;
}

RetryDecl Workflow::retry_for(const StageDecl& stage) const {
  return RetryDecl{stage.retries.value_or(retry.retries),
                   stage.retry_mem_factor.value_or(retry.mem_factor),
                   stage.retry_time_factor.value_or(retry.time_factor)};
}

uint64_t parse_memory_size(const ValueAt& value, const std::string& where) {
  const std::string bad = value.pos.str() + ": " + where +
                          " must be a size like \"512M\", \"16G\" or a number of bytes, at most 2^62";
  if (value.value.is_number_unsigned() || value.value.is_number_integer()) {
    if (value.value.get<int64_t>() >= 0 && value.value.get<int64_t>() <= (int64_t{1} << 62))
      return value.value.get<uint64_t>();
    throw Error(bad + " (got " + value.value.dump() + ")");
  }
  if (!value.value.is_string()) throw Error(bad);
  const std::string text = value.value.get<std::string>();
  if (auto bytes = sdk::parse_bytes(text)) return *bytes;
  throw Error(bad + " (got \"" + text + "\")");
}

int64_t parse_duration_s(const ValueAt& value, const std::string& where) {
  const std::string bad = value.pos.str() + ": " + where +
                          " must be a duration like \"90s\", \"30m\", \"2h\", \"1d\", "
                          "\"HH:MM:SS\" or a number of seconds";
  if (value.value.is_number_integer()) {
    if (value.value.get<int64_t>() >= 0 && value.value.get<int64_t>() <= (int64_t{1} << 62))
      return value.value.get<int64_t>();
    throw Error(bad + " (got " + value.value.dump() + ")");
  }
  if (!value.value.is_string()) throw Error(bad);
  const std::string text = value.value.get<std::string>();
  if (auto seconds = sdk::parse_seconds(text)) return *seconds;
  throw Error(bad + " (got \"" + text + "\")");
}

Workflow parse_workflow_text(const std::string& text, const std::string& file_name) {
  std::filesystem::path file = std::filesystem::absolute(file_name).lexically_normal();
  check_toml_limits(text, file_name);
  toml::table root;
  try {
    root = toml::parse(text, file.string());
  } catch (const toml::parse_error& e) {
    throw Error(SourcePos{file_name, static_cast<int>(e.source().begin.line),
                          static_cast<int>(e.source().begin.column)}
                    .str() +
                ": invalid TOML: " + std::string(e.description()));
  }
  Parser parser(file_name, file.parent_path().string());
  Workflow wf = parser.parse(root);
  wf.file = file.string();
  return wf;
}

Workflow parse_workflow_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw Error(path + ": no workflow file here; pass the path of a workflow.toml "
                       "(cadenza run path/to/workflow.toml) or run from its directory");
  return parse_workflow_text(read_file(path), path);
}

}  // namespace cadenza
