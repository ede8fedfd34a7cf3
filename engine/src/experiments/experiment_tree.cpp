#include "experiment_tree.h"

#include <filesystem>
#include <set>

#include "error.h"
#include "fs_util.h"
#include "tracked_params.h"

namespace cadenza {

namespace {

struct TreePlan {
  std::string workspace;          // absolute
  std::string tree;               // absolute: <workspace>/<outputs_dir>
  std::set<std::string> owned;    // workspace-relative
  std::set<std::string> parents;  // workspace-relative directories above an owned path
};

TreePlan plan_tree(const PreparedWorkflow& pw) {
  const Workflow& wf = pw.workflow();
  TreePlan plan{wf.workspace, wf.workspace + "/" + wf.outputs_dir, {}, {}};
  const std::string prefix = wf.outputs_dir + "/";
  for (const auto& stage : wf.stages)
    for (const auto& [name, out] : stage.outs)
      plan.owned.insert(out.path.rfind(prefix, 0) == 0 ? out.path.substr(prefix.size()) : out.path);
  for (const auto& [file, edits] : wf.params_file_edits) plan.owned.insert(file);
  for (const auto& owned : plan.owned)
    for (fs::path p = fs::path(owned).parent_path(); !p.empty(); p = p.parent_path()) plan.parents.insert(p.string());
  return plan;
}

// `at` is a link to `target`, replacing a link that points elsewhere. Real
// files and directories found there are the experiment's: left alone.
void ensure_link(const fs::path& at, const fs::path& target) {
  std::error_code ec;
  const auto st = fs::symlink_status(at, ec);
  if (fs::is_symlink(st)) {
    if (fs::read_symlink(at, ec) == target) return;
    fs::remove(at, ec);
  } else if (fs::exists(st)) {
    return;
  }
  fs::create_symlink(target, at, ec);
  if (ec) throw Error("cannot link " + at.string() + " to " + target.string() + ": " + ec.message());
}

void ensure_directory(const fs::path& at) {
  std::error_code ec;
  if (fs::is_symlink(fs::symlink_status(at, ec))) fs::remove(at, ec);
  fs::create_directories(at, ec);
  if (ec) throw Error("cannot create " + at.string() + ": " + ec.message());
}

// Links into the workspace whose target is gone.
void remove_dangling_links(const fs::path& dir, const std::string& workspace) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code e2;
    if (!it->is_symlink(e2)) continue;
    const fs::path target = fs::read_symlink(it->path(), e2);
    if (path_within(target.string(), workspace) && !fs::exists(target, e2)) fs::remove(it->path(), e2);
  }
}

void lay_out(const TreePlan& plan, const std::string& rel) {
  const fs::path source = rel.empty() ? fs::path(plan.workspace) : fs::path(plan.workspace) / rel;
  const fs::path here = rel.empty() ? fs::path(plan.tree) : fs::path(plan.tree) / rel;
  ensure_directory(here);
  std::error_code ec;
  for (fs::directory_iterator it(source, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const std::string child = rel.empty() ? name : rel + "/" + name;
    if (rel.empty() && name == ".cadenza") continue;
    if (plan.owned.count(child)) continue;
    if (plan.parents.count(child)) lay_out(plan, child);
    else ensure_link(here / name, it->path());
  }
  remove_dangling_links(here, plan.workspace);
}

}  // namespace

void lay_out_experiment_tree(const PreparedWorkflow& pw) {
  const Workflow& wf = pw.workflow();
  if (wf.outputs_dir.empty()) return;
  const TreePlan plan = plan_tree(pw);
  lay_out(plan, "");
  for (const auto& parent : plan.parents) ensure_directory(fs::path(plan.tree) / parent);
  TrackedParams tracked(wf);
  for (const auto& [file, edits] : wf.params_file_edits) {
    const fs::path at = fs::path(plan.tree) / file;
    std::error_code ec;
    if (fs::is_symlink(fs::symlink_status(at, ec))) fs::remove(at, ec);
    write_file_atomic(at, tracked.file(file).text(), Durability::kRenameOnly);
  }
}

}  // namespace cadenza
