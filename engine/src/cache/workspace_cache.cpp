#include "workspace_cache.h"

#include "tracked_params.h"

#include "image_tree.h"

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "error.h"
#include "fs_util.h"
#include "stage_key.h"

namespace cadenza {

using nlohmann::json;

namespace {

std::string short_hex(const Hash128& h) { return h.hex().substr(0, 8); }

}  // namespace

WorkspaceCache::WorkspaceCache(const Workflow& wf)
    : wf_(wf),
      stats_(wf.state_dir() + "/statcache"),
      store_(wf.cache_dir, wf.cache_shared),
      runs_(wf.cache_dir, wf.cache_shared),
      lock_(wf.lock_path()),
      link_mode_(link_mode_from_name(wf.cache_link)) {}

StoredOutput WorkspaceCache::hash_path(const std::string& abs_path) {
  return stats_.hash_path(abs_path);
}

std::string WorkspaceCache::image_identity(const ContainerDecl& c) {
  if (c.image_is_reference) return "oci:" + c.image.substr(c.image.find("@sha256:") + 1);
  FileStat st;
  if (!stat_path(c.image, &st))
    throw Error(c.pos.str() + ": container image '" + c.image_as_written + "' does not exist (" + c.image +
                "); build one with scripts/build-image.sh, or fix the path");
  try {
    if (st.is_dir) return "tree:" + image_tree_hash(c.image, stats_).hex();
    return "file:" + stats_.file_hash(c.image, st).hex();
  } catch (const Error& e) {
    throw Error(c.pos.str() + ": container image '" + c.image_as_written + "' cannot be read: " + e.what());
  }
}

StageFingerprint WorkspaceCache::fingerprint(const PreparedStage& stage) {
  StageFingerprint fp;
  {
    std::lock_guard<std::mutex> lock(plugin_mutex_);
    auto known = plugin_hashes_.find(stage.plugin_path);
    if (known != plugin_hashes_.end()) fp.plugin_hash = known->second;
  }
  if (fp.plugin_hash.empty()) {
    FileStat st;
    if (!stat_path(stage.plugin_path, &st))
      throw Error("plugin library " + stage.plugin_path + " vanished");
    fp.plugin_hash = stats_.file_hash(stage.plugin_path, st);
    std::lock_guard<std::mutex> lock(plugin_mutex_);
    plugin_hashes_[stage.plugin_path] = fp.plugin_hash;
  }
  if (stage.decl->container) fp.image_id = image_identity(*stage.decl->container);
  StageKeyInput in{stage.plugin.name, stage.plugin.version, fp.plugin_hash, stage.params, {}, {},
                   fp.image_id, wf_.outputs_dir};
  for (const auto& [name, dep] : stage.decl->deps) {
    const std::string abs = wf_.workspace + "/" + dep.path;
    StoredOutput h;
    try {
      h = hash_path(abs);
    } catch (const Error& e) {
      throw Error(dep.pos.str() + ": stage '" + stage.decl->name + "': dep '" + dep.path +
                  "' cannot be read: " + e.what());
    }
    fp.deps[name] = LockedPath{dep.path, h.hash, h.size, h.is_dir};
    in.deps[name] = {dep.path, h.hash};
  }
  for (const auto& [name, out] : stage.decl->outs) in.outs[name] = out.path;
  fp.key = stage_key(in);
  return fp;
}

namespace {

// For --explain: what changed about the stage's container image.
std::string image_change(const std::string& before, const PreparedStage& stage, const StageFingerprint& fp) {
  if (fp.image_id.empty()) return "no longer runs in container image " + before;
  const std::string now = stage.decl->container->image_as_written;
  if (before.empty()) return "now runs in container image " + now;
  if (before != now) return "container image " + before + " -> " + now;
  return "container image " + now + " changed (" + fp.image_id.substr(0, 17) + ")";
}

}  // namespace

std::vector<std::string> WorkspaceCache::reasons_to_run(const PreparedStage& stage,
                                                        const StageFingerprint& fp) {
  const std::string& name = stage.decl->name;
  const LockEntry* locked = lock_.find(name);
  if (!locked) return {"never ran (no entry in " + std::filesystem::path(lock_.path()).filename().string() + ")"};
  std::vector<std::string> reasons;
  if (locked->key != fp.key) {
    if (locked->plugin_name != stage.plugin.name)
      reasons.push_back("plugin " + locked->plugin_name + " -> " + stage.plugin.name);
    else if (locked->plugin_version != stage.plugin.version)
      reasons.push_back("plugin " + stage.plugin.name + " " + locked->plugin_version + " -> " +
                        stage.plugin.version);
    else if (locked->plugin_hash != fp.plugin_hash)
      reasons.push_back("plugin " + stage.plugin.name + " rebuilt");
    std::set<std::string> keys;
    for (const auto& [k, v] : locked->params.items()) keys.insert(k);
    for (const auto& [k, v] : stage.params.items()) keys.insert(k);
    for (const auto& k : keys) {
      const json before = locked->params.contains(k) ? locked->params[k] : json("(unset)");
      const json after = stage.params.contains(k) ? stage.params[k] : json("(unset)");
      if (before != after)
        reasons.push_back((is_tracked_param_name(k) ? k : "params." + name + "." + k) + " " + before.dump() +
                          " -> " + after.dump());
    }
    if (locked->image_id != fp.image_id) reasons.push_back(image_change(locked->image, stage, fp));
    for (const auto& [n, dep] : fp.deps) {
      auto it = locked->deps.find(n);
      if (it == locked->deps.end() || it->second.path != dep.path)
        reasons.push_back("new dep " + dep.path);
      else if (it->second.hash != dep.hash)
        reasons.push_back("dep " + dep.path + " changed");
    }
    for (const auto& [n, dep] : locked->deps)
      if (!fp.deps.count(n)) reasons.push_back("dep " + dep.path + " removed");
    for (const auto& [n, out] : stage.decl->outs) {
      auto it = locked->outs.find(n);
      if (it == locked->outs.end() || it->second.path != out.path)
        reasons.push_back("outs changed (" + out.path + ")");
    }
    if (reasons.empty()) reasons.push_back("stage definition changed (key " + short_hex(locked->key) + " -> " + short_hex(fp.key) + ")");
    return reasons;
  }
  for (const auto& [n, out] : locked->outs) {
    const std::string abs = wf_.workspace + "/" + out.path;
    FileStat st;
    if (!stat_path(abs, &st)) {
      reasons.push_back("out " + out.path + " is missing");
      continue;
    }
    try {
      if (hash_path(abs).hash != out.hash) reasons.push_back("out " + out.path + " was modified");
    } catch (const Error&) {
      reasons.push_back("out " + out.path + " cannot be read");
    }
  }
  return reasons;
}

std::optional<RunRecord> WorkspaceCache::cached_run(const Hash128& key) const {
  auto record = runs_.find(key);
  if (!record) return std::nullopt;
  for (const auto& [n, out] : record->outs)
    if (!store_.has(out)) return std::nullopt;
  return record;
}

void WorkspaceCache::restore(const PreparedStage& stage, const RunRecord& record) {
  for (const auto& [n, out] : stage.decl->outs) {
    auto it = record.outs.find(n);
    if (it == record.outs.end())
      throw Error("run-cache entry " + record.key.hex() + " has no out '" + n + "'");
    if (const std::string why = path_escape(wf_.workspace, out.path); !why.empty())
      throw Error("stage '" + stage.decl->name + "': out '" + n + "' " + why);
    store_.restore(it->second, wf_.workspace + "/" + out.path, link_mode_);
  }
}

void WorkspaceCache::record(const PreparedStage& stage, const StageFingerprint& fp,
                            const std::map<std::string, StoredOutput>& outs, bool restored) {
  LockEntry e;
  e.key = fp.key;
  e.plugin_name = stage.plugin.name;
  e.plugin_version = stage.plugin.version;
  e.plugin_hash = fp.plugin_hash;
  e.params = stage.params;
  e.deps = fp.deps;
  for (const auto& [n, out] : stage.decl->outs) {
    auto it = outs.find(n);
    if (it == outs.end()) continue;
    e.outs[n] = LockedPath{out.path, it->second.hash, it->second.size, it->second.is_dir};
    // Outs were hashed when they were stored; remember that for files so
    // the next no-op does not hash them again.
    const std::string abs = wf_.workspace + "/" + out.path;
    FileStat st;
    if (!it->second.is_dir && stat_path(abs, &st)) stats_.remember(abs, st, it->second.hash);
  }
  e.ran_at = utc_now_iso8601();
  e.restored = restored;
  if (stage.decl->container) {
    e.image = stage.decl->container->image_as_written;
    e.image_id = fp.image_id;
  }
  lock_.set(stage.decl->name, std::move(e));
}

void WorkspaceCache::save_lock_throttled(double interval_s) {
  const double now = std::chrono::duration<double>(
                         std::chrono::steady_clock::now().time_since_epoch()).count();
  if (now - last_lock_save_ < interval_s) return;
  lock_.save(Durability::kRenameOnly);
  last_lock_save_ = now;
}

void WorkspaceCache::save() {
  lock_.save();
  stats_.save();
  if (!lock_.stages().empty()) register_workspace(wf_.cache_dir, lock_.path());
}

void register_workspace(const std::string& cache_dir, const std::string& lock_path) {
  const std::string entry = cache_dir + "/workspaces/" + hash_bytes(lock_path).hex();
  std::error_code ec;
  if (std::filesystem::exists(entry, ec)) return;
  try {
    write_file_atomic(entry, lock_path + "\n", Durability::kRenameOnly);
  } catch (const Error&) {
  }
}

void unregister_workspace(const std::string& cache_dir, const std::string& lock_path) {
  remove_all_quietly(cache_dir + "/workspaces/" + hash_bytes(lock_path).hex());
}

std::vector<std::string> registered_workspaces(const std::string& cache_dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(cache_dir + "/workspaces", ec), end; !ec && it != end;
       it.increment(ec)) {
    try {
      std::string text = read_file(it->path());
      while (!text.empty() && text.back() == '\n') text.pop_back();
      out.push_back(text);
    } catch (const Error&) {
    }
  }
  return out;
}

}  // namespace cadenza
