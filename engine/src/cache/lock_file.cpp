#include "lock_file.h"

#include <stdexcept>

#include <ctime>
#include <filesystem>

#include "error.h"
#include "fs_util.h"

namespace cadenza {

using nlohmann::json;

namespace {

constexpr int kLockVersion = 1;

json path_to_json(const LockedPath& p, bool with_size) {
  json j = {{"path", p.path}, {"hash", p.hash.hex()}};
  if (with_size) {
    j["size"] = p.size;
    j["kind"] = p.is_dir ? "dir" : "file";
  } else if (p.is_dir) {
    j["kind"] = "dir";
  }
  return j;
}

LockedPath path_from_json(const json& j) {
  LockedPath p;
  p.path = j.at("path");
  p.hash = Hash128::from_hex(j.at("hash").get<std::string>());
  p.size = j.value("size", uint64_t{0});
  p.is_dir = j.value("kind", std::string("file")) == "dir";
  return p;
}

}  // namespace

std::string utc_now_iso8601() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

LockFile::LockFile(std::string path) : path_(std::move(path)) {
  std::error_code ec;
  if (!std::filesystem::exists(path_, ec)) return;
  try {
    const json j = json::parse(read_file(path_));
    if (j.at("version").get<int>() != kLockVersion)
      throw Error(path_ + ": lock file version " + j.at("version").dump() +
                  " is not supported (this cadenza writes version 1)");
    if (!j.at("stages").is_object()) throw std::invalid_argument("\"stages\" is not a table");
    for (const auto& [name, s] : j.at("stages").items()) try {
      LockEntry e;
      e.key = Hash128::from_hex(s.at("key").get<std::string>());
      e.plugin_name = s.at("plugin").at("name");
      e.plugin_version = s.at("plugin").at("version");
      e.plugin_hash = Hash128::from_hex(s.at("plugin").at("hash").get<std::string>());
      e.params = s.at("params");
      for (const auto& [n, d] : s.at("deps").items()) e.deps[n] = path_from_json(d);
      for (const auto& [n, o] : s.at("outs").items()) e.outs[n] = path_from_json(o);
      e.ran_at = s.at("ran_at");
      e.restored = s.value("restored", false);
      if (s.contains("image")) {
        e.image = s.at("image").at("path");
        e.image_id = s.at("image").at("id");
      }
      stages_[name] = std::move(e);
    } catch (const std::exception& e) {  // name the stage: a lock is edited by hand and merged by git
      throw Error(path_ + ": stage '" + name + "': " + e.what() +
                  "; restore the file from git or delete the stage's entry to run it again");
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(path_ + " is not a valid lock file (" + e.what() +
                "); restore it from git or delete it to rebuild it from scratch");
  }
}

const LockEntry* LockFile::find(const std::string& stage) const {
  auto it = stages_.find(stage);
  return it == stages_.end() ? nullptr : &it->second;
}

void LockFile::set(const std::string& stage, LockEntry entry) {
  stages_[stage] = std::move(entry);
  dirty_ = true;
}

void LockFile::save(Durability durability) {
  if (!dirty_) return;
  json stages = json::object();
  for (const auto& [name, e] : stages_) {
    json deps = json::object(), outs = json::object();
    for (const auto& [n, d] : e.deps) deps[n] = path_to_json(d, false);
    for (const auto& [n, o] : e.outs) outs[n] = path_to_json(o, true);
    stages[name] = {{"key", e.key.hex()},
                    {"plugin",
                     {{"name", e.plugin_name},
                      {"version", e.plugin_version},
                      {"hash", e.plugin_hash.hex()}}},
                    {"params", e.params},
                    {"deps", deps},
                    {"outs", outs},
                    {"ran_at", e.ran_at}};
    if (e.restored) stages[name]["restored"] = true;
    if (!e.image_id.empty()) stages[name]["image"] = {{"path", e.image}, {"id", e.image_id}};
  }
  write_file_atomic(path_, json{{"version", kLockVersion}, {"stages", stages}}.dump(2) + "\n",
                    durability);
  dirty_ = false;
}

}  // namespace cadenza
