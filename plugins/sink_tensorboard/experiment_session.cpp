#include "experiment_session.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "cadenza/sdk/error.h"
#include "event_writer.h"
#include "tensorboard_events.h"

namespace cadenza::tensorboard {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kSessionFile = "events.out.tfevents.0000000000.cadenza-session";
constexpr const char* kSessionSide = ".cadenza-session.json";
constexpr const char* kRestoredFile = "events.out.tfevents.0000000000.cadenza-restored";
constexpr const char* kExperimentFile = "events.out.tfevents.0000000000.cadenza-experiment";
constexpr const char* kRegistry = ".cadenza-hparams.json";

std::map<std::string, HParamValue> hparam_values(const json& flat) {
  std::map<std::string, HParamValue> out;
  for (const auto& [key, v] : flat.items()) {
    if (v.is_boolean()) out[key] = v.get<bool>();
    else if (v.is_number()) out[key] = v.get<double>();
    else if (v.is_string()) out[key] = v.get<std::string>();
    else out[key] = v.dump();  // lists: their JSON text
  }
  return out;
}

int hparam_type(const json& v) {
  if (v.is_boolean()) return static_cast<int>(HParamType::kBool);
  if (v.is_number()) return static_cast<int>(HParamType::kFloat64);
  return static_cast<int>(HParamType::kString);
}

json read_json(const fs::path& path, json fallback) {
  std::ifstream in(path);
  if (!in) return fallback;
  try {
    return json::parse(in);
  } catch (const json::exception&) {
    return fallback;  // torn or foreign: rebuilt from what comes next
  }
}

void write_json_atomic(const fs::path& path, const json& value) {
  const fs::path tmp = path.string() + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << value.dump(1) << "\n";
    if (!out) throw sdk::PluginError("cannot write " + tmp.string());
  }
  fs::rename(tmp, path);
}

// Held while the logdir's registry is read, merged and rewritten: several
// experiments may end at once, on several nodes of a shared file system.
class RegistryLock {
 public:
  explicit RegistryLock(const std::string& logdir) {
    const std::string path = logdir + "/.cadenza-hparams.lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0 || ::flock(fd_, LOCK_EX) != 0) throw sdk::PluginError("cannot lock " + path);
  }
  ~RegistryLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  RegistryLock(const RegistryLock&) = delete;
  RegistryLock& operator=(const RegistryLock&) = delete;

 private:
  int fd_ = -1;
};

// The metric columns: every (stage, tag) known when none were chosen; else
// "stage:tag" as given and "tag" for every stage that reports it.
std::vector<MetricColumn> metric_columns(const json& known, const json& columns) {
  std::vector<MetricColumn> out;
  std::set<std::pair<std::string, std::string>> added;
  const auto add = [&](const std::string& g, const std::string& t) {
    if (added.insert({g, t}).second) out.push_back({g, t});
  };
  if (columns.empty()) {
    for (const auto& gt : known) add(gt[0], gt[1]);
    return out;
  }
  for (const auto& c : columns) {
    const std::string col = c.get<std::string>();
    const auto colon = col.find(':');
    if (colon != std::string::npos) {
      add(col.substr(0, colon), col.substr(colon + 1));
      continue;
    }
    for (const auto& gt : known)
      if (gt[1] == col) add(gt[0], gt[1]);
  }
  return out;
}

}  // namespace

SinkPaths sink_paths(const std::string& config_json, const std::string& workspace, const std::string& experiment) {
  SinkPaths p{"logs/tensorboard", experiment};
  const json config = json::parse(config_json);
  for (const auto& [key, v] : config.items()) {
    if (!v.is_string() || v.get<std::string>().empty())
      throw sdk::PluginError("[sinks.tensorboard]." + key + " must be a non-empty string");
    if (key == "logdir") p.logdir = v.get<std::string>();
    else if (key == "run_name") p.run_name = v.get<std::string>();
    else throw sdk::PluginError("[sinks.tensorboard]: unknown key '" + key + "' (known: logdir, run_name)");
  }
  if (p.logdir.front() != '/') p.logdir = workspace + "/" + p.logdir;
  return p;
}

void clear_event_files(const std::string& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.path().filename().string().find("tfevents") != std::string::npos) fs::remove(entry.path(), ec);
}

void write_session(const SinkPaths& paths, const json& hparams, double start, bool ended, double end,
                   bool succeeded) {
  std::vector<std::string> events{session_start_event(start, hparam_values(hparams), paths.run_name)};
  if (ended) events.push_back(session_end_event(end, succeeded ? SessionStatus::kSuccess : SessionStatus::kFailure));
  replace_event_file(paths.session_dir() + "/" + kSessionFile, start, events);
  if (!ended) write_json_atomic(paths.session_dir() + "/" + kSessionSide, json{{"start", start}});
}

double session_start(const SinkPaths& paths, double fallback) {
  const json side = read_json(paths.session_dir() + "/" + kSessionSide, json::object());
  return side.value("start", fallback);
}

void write_restored_stage(const SinkPaths& paths, const std::string& stage, const json& metrics) {
  const std::string dir = paths.stage_dir(stage);
  std::vector<std::string> events;
  const double t = session_start(paths, now_seconds());
  for (const auto& [tag, m] : metrics.items())
    if (m.contains("last") && m["last"].is_number())
      events.push_back(scalar_event(t, m.value("step", int64_t{0}), tag, m["last"].get<float>()));
  std::error_code ec;
  fs::create_directories(dir, ec);
  clear_event_files(dir);
  if (!events.empty()) replace_event_file(dir + "/" + kRestoredFile, t, events);
}

void update_experiment_summary(const SinkPaths& paths, const json& hparams, const json& stage_tags,
                               const json& columns) {
  fs::create_directories(paths.logdir);
  RegistryLock lock(paths.logdir);
  const fs::path registry_path = paths.logdir + "/" + kRegistry;
  json registry = read_json(registry_path, json::object());
  json types = registry.value("hparams", json::object());
  for (const auto& [name, v] : hparams.items()) types[name] = hparam_type(v);
  std::set<std::pair<std::string, std::string>> known;
  // emplace, not insert({..}): that picks insert(initializer_list) and converts each string to a pair.
  for (const auto& gt : registry.value("metrics", json::array()))
    known.emplace(gt[0].get<std::string>(), gt[1].get<std::string>());
  for (const auto& [stage, tags] : stage_tags.items())
    for (const auto& tag : tags) known.insert({stage, tag.get<std::string>()});
  registry = {{"hparams", types}, {"metrics", known}, {"columns", columns}};
  write_json_atomic(registry_path, registry);

  std::map<std::string, HParamType> infos;
  for (const auto& [name, type] : types.items()) infos[name] = static_cast<HParamType>(type.get<int>());
  const double t = now_seconds();
  replace_event_file(paths.logdir + "/" + kExperimentFile, t,
                     {experiment_event(t, infos, metric_columns(registry["metrics"], columns))});
}

}  // namespace cadenza::tensorboard
