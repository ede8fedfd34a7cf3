#include "run_cache.h"

#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "error.h"
#include "fs_util.h"

namespace cadenza {

using nlohmann::json;

namespace {

json record_to_json(const RunRecord& r) {
  json outs = json::object();
  for (const auto& [name, o] : r.outs)
    outs[name] = {{"path", r.paths.count(name) ? r.paths.at(name) : ""},
                  {"hash", o.hash.hex()},
                  {"size", o.size},
                  {"dir", o.is_dir}};
  json j = {{"key", r.key.hex()}, {"stage", r.stage}, {"plugin", r.plugin},
            {"created", r.created}, {"outs", outs}};
  if (!r.metrics.empty()) j["metrics"] = r.metrics;
  return j;
}

RunRecord record_from_json(const json& j) {
  RunRecord r;
  r.key = Hash128::from_hex(j.at("key").get<std::string>());
  r.stage = j.at("stage");
  r.plugin = j.at("plugin");
  r.created = j.at("created");
  for (const auto& [name, o] : j.at("outs").items()) {
    r.outs[name] = StoredOutput{Hash128::from_hex(o.at("hash").get<std::string>()),
                                o.at("size"), o.at("dir")};
    r.paths[name] = o.at("path");
  }
  r.metrics = j.value("metrics", json::object());
  return r;
}

}  // namespace

std::string RunCache::entry_path(const Hash128& key) const {
  const std::string hex = key.hex();
  return root_ + "/runs/" + hex.substr(0, 2) + "/" + hex.substr(2) + ".json";
}

std::optional<RunRecord> RunCache::find(const Hash128& key) const {
  const std::string path = entry_path(key);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::nullopt;
  try {
    RunRecord r = record_from_json(json::parse(read_file(path)));
    if (r.key != key) return std::nullopt;
    return r;
  } catch (const std::exception&) {
    return std::nullopt;  // unreadable entry: treated as a miss, rerun overwrites it
  }
}

void RunCache::put(const RunRecord& record) const {
  const std::string path = entry_path(record.key);
  const std::string dir = std::filesystem::path(path).parent_path().string();
  std::filesystem::create_directories(dir);
  if (shared_) {
    ::chmod((root_ + "/runs").c_str(), 02775);
    ::chmod(dir.c_str(), 02775);
  }
  // Rename-atomic, not fsynced: what matters is that a killed process never
  // leaves a half entry; its objects are not fsynced either (see gc/verify).
  write_file_atomic(path, record_to_json(record).dump(1), Durability::kRenameOnly);
  if (shared_) ::chmod(path.c_str(), 0664);
}

std::vector<RunRecord> RunCache::all() const {
  std::vector<RunRecord> out;
  std::error_code ec;
  for (std::filesystem::recursive_directory_iterator it(root_ + "/runs", ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->path().extension() != ".json") continue;
    try {
      out.push_back(record_from_json(json::parse(read_file(it->path()))));
    } catch (const std::exception&) {
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> RunCache::damaged() const {
  std::vector<std::pair<std::string, std::string>> out;
  std::error_code ec;
  for (std::filesystem::recursive_directory_iterator it(root_ + "/runs", ec), end; !ec && it != end;
       it.increment(ec)) {
    if (!it->is_regular_file(ec) || it->path().extension() != ".json") continue;
    const std::string path = it->path().string();
    try {
      const RunRecord r = record_from_json(json::parse(read_file(path)));
      const std::string hex = r.key.hex();
      const std::string named = it->path().parent_path().filename().string() + it->path().stem().string();
      if (named != hex) out.push_back({path, "it holds the entry of key " + hex});
    } catch (const std::exception& e) {
      out.push_back({path, std::string("not a run-cache entry: ") + e.what()});
    }
  }
  return out;
}

bool RunCache::remove(const Hash128& key) const {
  std::error_code ec;
  return std::filesystem::remove(entry_path(key), ec);
}

}  // namespace cadenza
