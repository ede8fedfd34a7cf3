#include "prepared_workflow.h"

#include <filesystem>

#include "error.h"
#include "param_resolver.h"
#include "tracked_params.h"
#include "workflow_parser.h"

namespace cadenza {

std::unique_ptr<PreparedWorkflow> PreparedWorkflow::load(const std::string& workflow_path,
                                                         const std::vector<std::string>& only,
                                                         const std::function<void(Workflow&)>& adjust) {
  std::unique_ptr<PreparedWorkflow> p(new PreparedWorkflow());
  p->workflow_ = std::make_unique<Workflow>(parse_workflow_file(workflow_path));
  if (adjust) adjust(*p->workflow_);
  const Workflow& wf = *p->workflow_;
  p->graph_ = std::make_unique<StageGraph>(wf);
  p->finder_ = std::make_unique<PluginFinder>(wf.plugin_paths);

  p->selected_.assign(wf.stages.size(), only.empty());
  for (const auto& name : only) {
    auto closure = p->graph_->closure_of(p->graph_->index_of(name));
    for (size_t i = 0; i < closure.size(); ++i)
      if (closure[i]) p->selected_[i] = true;
  }

  PluginCatalog catalog(wf.workspace + "/.cadenza/plugin-meta.json");  // shared by experiments
  std::map<std::string, std::string> found;  // plugin name -> path, once per name
  auto describe = [&](const std::string& name, const std::string& kind,
                      const SourcePos& where) -> const PluginMeta& {
    std::string path;
    try {
      auto known = found.find(name);
      path = known != found.end() ? known->second : (found[name] = p->finder_->find(name));
      const PluginMeta& meta = catalog.describe(path);
      if (meta.info.kind != kind)
        throw Error(path + " is a " + meta.info.kind + " plugin, but a " + kind +
                    " plugin is needed here");
      return meta;
    } catch (const Error& e) {
      throw Error(where.str() + ": " + e.what());
    }
  };

  std::map<std::string, std::string> sink_paths;
  TrackedParams tracked(wf);
  p->stages_.resize(wf.stages.size());
  for (size_t i = 0; i < wf.stages.size(); ++i) {
    const StageDecl& decl = wf.stages[i];
    PreparedStage& ps = p->stages_[i];
    ps.decl = &decl;
    ps.backend = wf.backend_for(decl);
    if (!p->selected_[i]) continue;
    const PluginMeta& meta = describe(decl.plugin, "stage", decl.plugin_pos);
    ps.plugin_path = meta.info.path;
    ps.plugin = meta.info;
    ps.params = resolve_params(wf, decl, meta.params);
    ps.params.update(tracked.values_for(decl));
    if (decl.container && !decl.container->image_is_reference) {
      std::error_code ec;
      if (!std::filesystem::exists(decl.container->image, ec))
        throw Error(decl.container->pos.str() + ": stage '" + decl.name + "': container image '" +
                    decl.container->image_as_written + "' does not exist (" + decl.container->image +
                    "); build one with scripts/build-image.sh, or fix the path");
    }
    if (!p->backend_paths_.count(ps.backend))
      p->backend_paths_[ps.backend] = describe(ps.backend, "backend", decl.pos).info.path;
    for (const auto& sink : wf.sinks_for(decl)) {
      if (!sink_paths.count(sink)) sink_paths[sink] = describe(sink, "sink", decl.pos).info.path;
      auto config = wf.sink_configs.count(sink) ? wf.sink_configs.at(sink)
                                                : nlohmann::json::object();
      ps.sinks.push_back({sink, sink_paths[sink], config});
    }
  }
  catalog.save();
  return p;
}

nlohmann::json PreparedWorkflow::flat_params() const {
  nlohmann::json flat = nlohmann::json::object();
  for (size_t k = 0; k < size(); ++k)
    if (selected(k))
      for (const auto& [key, value] : stage(k).params.items())  // a file's key is the same for every stage
        flat[is_tracked_param_name(key) ? key : stage(k).decl->name + "." + key] = value;
  return flat;
}

}  // namespace cadenza
