#include "backend_pool.h"

#include "error.h"
#include "plugin_library.h"

namespace cadenza {

using nlohmann::json;

BackendFactory plugin_backend_factory() {
  return [](const std::string&, const std::string& path) {
    return PluginLibrary::load(path)->create_backend();
  };
}

BackendPool::BackendPool(const PreparedWorkflow& pw, int max_jobs, sdk::BackendHost& host,
                         BackendFactory factory)
    : pw_(pw), max_jobs_(max_jobs), host_(host), factory_(std::move(factory)) {}

sdk::Backend& BackendPool::get(const std::string& name) {
  auto it = backends_.find(name);
  if (it != backends_.end()) return *it->second;
  auto path = pw_.backend_paths().find(name);
  if (path == pw_.backend_paths().end())
    throw Error(pw_.workflow().file + ": backend '" + name + "' is not used by this workflow");
  std::shared_ptr<sdk::Backend> backend = factory_(name, path->second);
  const auto& configs = pw_.workflow().backend_configs;
  json config = configs.count(name) ? configs.at(name) : json::object();
  if (max_jobs_ > 0) config["max_jobs"] = max_jobs_;
  try {
    backend->configure(config.dump(), host_);
  } catch (const std::exception& e) {
    throw Error(pw_.workflow().file + ": [backends." + name + "]: " + e.what());
  }
  return *backends_.emplace(name, std::move(backend)).first->second;
}

bool BackendPool::handles_dependencies(const std::string& name) {
  try {
    return get(name).handles_dependencies();
  } catch (const std::exception&) {
    return false;  // reported when a stage is submitted to it
  }
}

sdk::JobHandle BackendPool::submit(const std::string& name, const sdk::JobRequest& request) {
  sdk::Backend& backend = get(name);
  sdk::JobHandle handle;
  try {
    handle = backend.submit(request);
  } catch (const std::exception& e) {
    throw Error(e.what());
  }
  if (handle.empty()) throw Error(name + " returned an empty job handle (a bug in the backend)");
  track(name, handle);
  return handle;
}

std::vector<sdk::JobHandle> BackendPool::submit_many(const std::string& name,
                                                     const std::vector<sdk::JobRequest>& requests) {
  if (requests.size() == 1) return {submit(name, requests.front())};
  sdk::Backend& backend = get(name);
  std::vector<sdk::JobHandle> handles;
  try {
    handles = backend.submit_array(requests);
  } catch (const std::exception& e) {
    throw Error(e.what());
  }
  if (handles.size() != requests.size())
    throw Error(name + " returned " + std::to_string(handles.size()) + " handles for " +
                std::to_string(requests.size()) + " jobs (a bug in the backend)");
  for (const auto& h : handles) {
    if (h.empty()) throw Error(name + " returned an empty job handle (a bug in the backend)");
    track(name, h);
  }
  return handles;
}

std::string BackendPool::attach(const std::string& name, const std::vector<sdk::JobHandle>& handles) {
  try {
    get(name).attach(handles);
  } catch (const std::exception& e) {
    return e.what();
  }
  for (const auto& h : handles) track(name, h);
  return "";
}

std::string BackendPool::cancel(const std::string& name, const sdk::JobHandle& handle) {
  try {
    get(name).cancel(handle);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

size_t BackendPool::active_jobs() const {
  size_t n = 0;
  for (const auto& [name, handles] : active_) n += handles.size();
  return n;
}

std::vector<BackendUpdate> BackendPool::wait(int timeout_ms) {
  size_t busy = 0;
  for (const auto& [name, handles] : active_) busy += !handles.empty();
  // One backend may block for the whole timeout; several share it.
  const int each_ms = busy <= 1 ? timeout_ms : std::max(1, timeout_ms / static_cast<int>(busy));
  std::vector<BackendUpdate> out;
  for (auto& [name, handles] : active_) {
    if (handles.empty()) continue;
    std::vector<sdk::JobUpdate> updates;
    try {
      updates = get(name).wait(each_ms);
    } catch (const std::exception& e) {
      errors_.push_back("backend " + name + " failed while waiting for its jobs: " + e.what());
      for (const auto& h : handles) {
        sdk::JobUpdate failed;
        failed.handle = h;
        failed.state = sdk::JobState::kFinished;
        failed.outcome = sdk::Outcome::kFailed;
        failed.message = "backend " + name + " failed while waiting for its jobs: " + e.what();
        updates.push_back(failed);
      }
    }
    for (auto& u : updates) {
      if (!handles.count(u.handle)) continue;  // not ours, or already over
      if (u.state == sdk::JobState::kFinished) handles.erase(u.handle);
      out.push_back({name, std::move(u)});
    }
  }
  return out;
}

}  // namespace cadenza
