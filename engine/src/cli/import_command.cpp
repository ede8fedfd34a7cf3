// `cadenza import dvc [dvc.yaml] [--force] [--adopt]`: writes workflow.toml
// next to a DVC 3 pipeline, one `stage_shell` stage per (expanded) DVC
// stage, so the user's scripts run unchanged. What has no equivalent is
// written as a comment at its stage and listed with its dvc.yaml line.
// --adopt takes the outputs DVC already computed (dvc_adopt.h).
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cli_args.h"
#include "commands.h"
#include "dvc_adopt.h"
#include "dvc_pipeline.h"
#include "error.h"
#include "fs_util.h"

namespace cadenza {

namespace fs = std::filesystem;

namespace {

std::string toml_string(const std::string& s) { return nlohmann::json(s).dump(); }  // a valid TOML basic string

// Cadenza's stage names are letters, digits, '_' and '-': DVC's "@" becomes
// "-" ("report@a" -> "report-a"), anything else '_' ("train@0.01" -> "train-0_01").
std::string stage_name_for(const std::string& dvc_name) {
  std::string out;
  for (char c : dvc_name)
    out += c == '@' ? '-' : (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') ? c : '_';
  return out;
}

// A dep's or out's name in its table, from its file name ("src/train.py" -> "train_py").
std::string path_key(const std::string& path, std::set<std::string>& taken) {
  std::string base = fs::path(path).filename().string();
  std::string key;
  for (char c : base) key += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (key.empty() || std::isdigit(static_cast<unsigned char>(key[0]))) key = "p_" + key;
  std::string unique = key;
  for (int n = 2; !taken.insert(unique).second; ++n) unique = key + "_" + std::to_string(n);
  return unique;
}

std::string path_table(const std::vector<std::string>& paths) {
  std::set<std::string> taken;
  std::string out = "{ ";
  for (size_t i = 0; i < paths.size(); ++i)
    out += (i ? ", " : "") + path_key(paths[i], taken) + " = " + toml_string(paths[i]);
  return out + " }";
}

// Where dvclive writes, from a metrics or plots path under it: "dvclive".
std::string dvclive_dir_of(const std::string& path) {
  const size_t at = path.find("dvclive");
  if (at == std::string::npos) return "";
  const size_t end = path.find('/', at);
  return end == std::string::npos ? path : path.substr(0, end);
}

struct Translation {
  std::string toml;
  std::vector<std::string> notes;  // "dvc.yaml:12: stage 'x': ..."
  std::vector<std::pair<std::string, std::string>> renamed;
};

void translate_stage(const DvcStage& s, const std::string& file, const std::vector<DvcNote>& notes, Translation& t) {
  const std::string name = stage_name_for(s.name);
  if (name != s.name) t.renamed.emplace_back(s.name, name);
  std::ostringstream out;
  out << "\n# DVC stage '" << s.name << "' (" << file << ":" << s.line << ")\n";
  for (const auto& n : notes)
    if (n.stage == s.name) {
      out << "# not carried: " << n.text << " (" << file << ":" << n.line << ")\n";
      t.notes.push_back(file + ":" + std::to_string(n.line) + ": stage '" + s.name + "': " + n.text);
    }
  for (const auto& o : s.outs)
    if (!o.desc.empty()) out << "# out " << o.path << ": " << o.desc << "\n";
  out << "[stages." << name << "]\n";
  if (!s.desc.empty()) out << "description = " << toml_string(s.desc) << "\n";
  out << "plugin = \"shell\"\n";
  if (!s.deps.empty()) out << "deps = " << path_table(s.deps) << "\n";
  std::vector<std::string> outs;
  for (const auto& o : s.outs) outs.push_back(o.path);
  if (!outs.empty()) out << "outs = " << path_table(outs) << "\n";
  const std::string cmd = s.wdir.empty() || s.wdir == "." ? s.cmd : "cd " + s.wdir + " && " + s.cmd;
  out << "params = { cmd = " << toml_string(cmd);
  std::set<std::string> metric_files;
  std::string dvclive;
  for (const auto& m : s.metrics) {
    if (const std::string d = dvclive_dir_of(m); !d.empty()) dvclive = d;
    else metric_files.insert(m);
  }
  for (const auto& p : s.plots) {
    if (const std::string d = dvclive_dir_of(p); !d.empty()) dvclive = d;
    else if (!metric_files.count(p)) {
      t.notes.push_back(file + ":" + std::to_string(s.line) + ": stage '" + s.name + "': plots " + p +
                        " (Cadenza's TensorBoard scalars and `exp show` take the place of DVC plots)");
    }
  }
  if (!dvclive.empty()) out << ", metrics_from_dvclive = " << toml_string(dvclive);
  if (!metric_files.empty()) {
    out << ", metrics_from_files = [";
    size_t k = 0;
    for (const auto& m : metric_files) out << (k++ ? ", " : "") << toml_string(m);
    out << "]";
  }
  out << " }\n";
  if (!s.params.empty()) {
    out << "params_files = { ";
    size_t k = 0;
    for (const auto& [f, keys] : s.params) {
      out << (k++ ? ", " : "") << toml_string(f) << " = [";
      for (size_t i = 0; i < keys.size(); ++i) out << (i ? ", " : "") << toml_string(keys[i]);
      out << "]";
    }
    out << " }\n";
  }
  t.toml += out.str();
}

// .dvc/config's default remote, if it is a local path or ssh.
std::string remote_line(const std::string& root, std::vector<std::string>& notes) {
  std::ifstream in(root + "/.dvc/config");
  if (!in) return "";
  std::map<std::string, std::string> urls;
  std::string section, core_remote;
  for (std::string line; std::getline(in, line);) {
    line.erase(0, line.find_first_not_of(" \t"));
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line[0] == '[') {
      section = line.substr(1, line.find(']') - 1);
      continue;
    }
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    key.erase(key.find_last_not_of(" \t") + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    if (section == "core" && key == "remote") core_remote = value;
    if (section.rfind("'remote \"", 0) == 0 && key == "url")
      urls[section.substr(9, section.find('"', 9) - 9)] = value;
  }
  if (urls.empty()) return "";
  const std::string name = urls.count(core_remote) ? core_remote : urls.begin()->first;
  const std::string url = urls[name];
  const bool ssh = url.rfind("ssh://", 0) == 0;
  const bool local = url.find("://") == std::string::npos;
  for (const auto& [n, u] : urls)
    if (n != name || (!ssh && !local))
      notes.push_back(".dvc/config: remote '" + n + "' (" + u + ")" +
                      (u.find("://") != std::string::npos && u.rfind("ssh://", 0) != 0
                           ? ": Cadenza's remotes are directories and ssh"
                           : ": only the default remote is carried"));
  if (!ssh && !local) return "";
  const std::string path = local && fs::path(url).is_relative() ? (fs::path(".dvc") / url).lexically_normal().string() : url;
  return "remote = " + toml_string(path) + "  # DVC remote '" + name + "'\n";
}

void adopt(const fs::path& root, const DvcPipeline& pipeline) {
  const std::string lock = (root / "dvc.lock").string();
  if (!fs::exists(lock)) throw Error("--adopt: no dvc.lock next to dvc.yaml (" + lock + "); without it nothing can be "
                                     "adopted: `cadenza run` computes the outputs");
  std::vector<ImportedStage> stages;
  for (const auto& s : pipeline.stages) stages.push_back({stage_name_for(s.name), s.name, s.wdir});
  const AdoptResult r = adopt_dvc_outputs((root / "workflow.toml").string(), lock, stages);
  std::cout << "adopted " << r.adopted.size() << " stage" << (r.adopted.size() == 1 ? "" : "s")
            << " whose outputs match dvc.lock (stored in the cache and workflow.lock)\n";
  for (const auto& l : r.left_to_run) std::cout << "  left to run: " << l << "\n";
}

}  // namespace

int cmd_import(const Args& args) {
  CliArgs cli("import", args, {}, {"--force", "--adopt"});
  if (cli.positionals().empty() || cli.positionals()[0] != "dvc" || cli.positionals().size() > 2)
    throw Error("usage: cadenza import dvc [dvc.yaml] [--force] [--adopt]");
  const std::string dvc_yaml = cli.positionals().size() == 2 ? cli.positionals()[1] : "dvc.yaml";
  const fs::path root = fs::absolute(dvc_yaml).parent_path();
  const std::string target = (root / "workflow.toml").string();
  if (fs::exists(target) && !cli.has("--force"))
    throw Error(target + " exists; `cadenza import dvc --force` replaces it (keep a copy if you edited it)");
  const DvcPipeline pipeline = read_dvc_pipeline(fs::absolute(dvc_yaml).string());
  const std::string file = fs::path(dvc_yaml).filename().string();

  Translation t;
  std::string project = root.filename().string();
  for (auto& c : project)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
  std::string header = "# Imported from " + file + " by `cadenza import dvc`: each DVC stage is a stage_shell\n"
                       "# stage that runs its command unchanged. Commands: README, \"Coming from DVC\".\n\n"
                       "[workflow]\nname = " + toml_string(project) + "\n";
  header += remote_line(root.string(), t.notes);
  for (const auto& n : t.notes) header += "# not carried: " + n + "\n";  // the remotes
  for (const auto& n : pipeline.not_carried)
    if (n.stage.empty()) {
      header += "# not carried: " + n.text + " (" + file + ":" + std::to_string(n.line) + ")\n";
      t.notes.push_back(file + ":" + std::to_string(n.line) + ": " + n.text);
    }
  std::set<std::string> names;
  for (const auto& s : pipeline.stages) {
    if (!names.insert(stage_name_for(s.name)).second)
      throw Error(file + ":" + std::to_string(s.line) + ": stage '" + s.name + "' maps to the Cadenza name '" +
                  stage_name_for(s.name) + "', which another stage has; rename one of them in " + file);
    translate_stage(s, file, pipeline.not_carried, t);
  }
  write_file_atomic(target, header + t.toml, Durability::kFsync);
  std::cout << "wrote " << target << ": " << pipeline.stages.size() << " stage"
            << (pipeline.stages.size() == 1 ? "" : "s") << " from " << file << "\n";
  for (const auto& [from, to] : t.renamed) std::cout << "  stage " << from << " is " << to << "\n";
  if (!t.notes.empty()) {
    std::cout << "not carried (written as comments in workflow.toml):\n";
    for (const auto& n : t.notes) std::cout << "  " << n << "\n";
  }
  if (cli.has("--adopt")) adopt(root, pipeline);
  return 0;
}

}  // namespace cadenza
