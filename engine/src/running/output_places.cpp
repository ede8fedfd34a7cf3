#include "output_places.h"

#include <filesystem>

#include "error.h"
#include "fs_util.h"
#include "subprocess.h"

namespace cadenza {

namespace {

bool present(const std::string& path) {
  std::error_code ec;
  return fs::exists(fs::symlink_status(path, ec));
}

// `git ls-files` under `rel` in `workspace`: NUL-separated, workspace-relative.
std::vector<std::string> git_tracked_under(const std::string& workspace, const std::string& rel) {
  std::vector<std::string> files;
  ProcessResult r;
  try {
    r = run_process({"git", "-C", workspace, "ls-files", "-z", "--", rel});
  } catch (const Error&) {
    return files;  // no git here
  }
  if (!r.ok()) return files;  // not a repository
  size_t start = 0;
  for (size_t nul; (nul = r.out.find('\0', start)) != std::string::npos; start = nul + 1)
    files.push_back(r.out.substr(start, nul - start));
  return files;
}

}  // namespace

OutputPlaces::OutputPlaces(const JobSpec& spec, const std::map<std::string, std::string>& staging)
    : spec_(spec), staging_(staging) {}

std::string OutputPlaces::final_path(const std::string& name) const {
  return spec_.workspace + "/" + spec_.outs.at(name);
}

std::string OutputPlaces::previous_path(const std::string& name) const { return staging_.at(name) + ".prev"; }

void OutputPlaces::clear_for_run() {
  for (const auto& [name, rel] : spec_.outs) {
    if (!present(final_path(name))) continue;
    std::error_code ec;
    fs::rename(final_path(name), previous_path(name), ec);
    if (ec)
      throw Error("stage '" + spec_.stage + "': cannot move the previous " + rel + " aside to run the stage: " +
                  ec.message());
  }
}

void OutputPlaces::adopt_written_in_place() {
  for (const auto& [name, rel] : spec_.outs) {
    if (present(staging_.at(name)) || !present(final_path(name))) continue;
    std::error_code ec;
    fs::rename(final_path(name), staging_.at(name), ec);
    if (ec) throw Error("stage '" + spec_.stage + "': cannot take " + rel + " as its out: " + ec.message());
  }
}

void OutputPlaces::restore_previous() {
  for (const auto& [name, rel] : spec_.outs) {
    if (!present(previous_path(name))) continue;
    remove_all_quietly(final_path(name));
    std::error_code ec;
    fs::rename(previous_path(name), final_path(name), ec);
  }
}

void OutputPlaces::drop_previous() {
  for (const auto& [name, rel] : spec_.outs) remove_all_quietly(previous_path(name));
}

void OutputPlaces::keep_git_tracked_files() {
  if (!spec_.outputs_dir.empty()) return;
  for (const auto& [name, rel] : spec_.outs) {
    std::error_code ec;
    if (!fs::is_directory(staging_.at(name), ec)) continue;
    for (const auto& file : git_tracked_under(spec_.workspace, rel)) {
      if (file.size() <= rel.size() || file.compare(0, rel.size() + 1, rel + "/") != 0) continue;
      const std::string target = staging_.at(name) + file.substr(rel.size());
      if (present(target)) continue;
      ProcessResult blob = run_process({"git", "-C", spec_.workspace, "show", ":" + file});
      if (blob.ok()) write_file_atomic(target, blob.out, Durability::kRenameOnly);
    }
  }
}

}  // namespace cadenza
