#include "tracked_params.h"

#include "error.h"

namespace cadenza {

using nlohmann::json;

std::string tracked_param_name(const std::string& file, const std::string& key) { return file + ":" + key; }

bool is_tracked_param_name(const std::string& name) { return name.find(':') != std::string::npos; }

const ParamsFile& TrackedParams::file(const std::string& path) {
  auto it = files_.find(path);
  if (it != files_.end()) return it->second;
  ParamsFile f = ParamsFile::read(wf_.workspace + "/" + path, path);
  auto edits = wf_.params_file_edits.find(path);
  if (edits != wf_.params_file_edits.end())
    for (const auto& e : edits->second) f = ParamsFile::parse(f.edited(e.key, e.value, e.source), path);
  return files_.emplace(path, std::move(f)).first->second;
}

json TrackedParams::values_for(const StageDecl& stage) {
  json out = json::object();
  for (const auto& tracked : stage.params_files) {
    const ParamsFile* f = nullptr;
    try {
      f = &file(tracked.path);
    } catch (const Error& e) {
      throw Error(tracked.pos.str() + ": stage '" + stage.name + "' tracks keys of " + tracked.path + ": " +
                  e.what());
    }
    if (tracked.keys.empty()) {
      out[tracked_param_name(tracked.path, "*")] = f->document();
      continue;
    }
    for (const auto& key : tracked.keys) {
      try {
        out[tracked_param_name(tracked.path, key)] = f->value(key);
      } catch (const Error& e) {
        throw Error(tracked.pos.str() + ": stage '" + stage.name + "' tracks key '" + key + "' of " +
                    tracked.path + ", which it does not have: " + e.what());
      }
    }
  }
  return out;
}

}  // namespace cadenza
