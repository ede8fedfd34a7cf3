#include "container_command.h"

#include <filesystem>

#include "error.h"
#include "fs_util.h"

namespace cadenza {

namespace fs = std::filesystem;

namespace {

bool inside(const std::string& path, const std::string& dir) {
  if (path == dir) return true;
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         (dir.back() == '/' || path[dir.size()] == '/');
}

Bind user_bind(const std::string& text) {
  const auto colon = text.find(':');
  Bind b{text.substr(0, colon), colon == std::string::npos ? text.substr(0, colon) : text.substr(colon + 1)};
  if (b.src.empty() || b.src[0] != '/' || b.dst.empty() || b.dst[0] != '/')
    throw Error("container.binds entry '" + text + "' must be \"/host/path\" or \"/host/path:/container/path\"");
  return b;
}

void add(std::vector<Bind>& binds, Bind b) {
  b.src = fs::path(b.src).lexically_normal().string();
  b.dst = fs::path(b.dst).lexically_normal().string();
  if (b.src.size() > 1 && b.src.back() == '/') b.src.pop_back();
  if (b.dst.size() > 1 && b.dst.back() == '/') b.dst.pop_back();
  for (const auto& have : binds)
    if (have.src == have.dst && b.src == b.dst && inside(b.src, have.src)) return;  // already visible there
  binds.push_back(std::move(b));
}

std::string parent_of(const std::string& path) { return fs::path(path).parent_path().string(); }

}  // namespace

std::vector<Bind> container_binds(const JobSpec& spec, const std::string& cadenza_binary) {
  std::vector<Bind> binds;
  for (const std::string& dir : {spec.workspace, spec.cache_dir, spec.run_dir, parent_of(spec.scratch_dir)})
    if (!dir.empty()) add(binds, {dir, dir});
  if (spec.container && spec.container->cadenza == "host") {
    add(binds, {parent_of(cadenza_binary), parent_of(cadenza_binary)});
    add(binds, {parent_of(spec.plugin_path), parent_of(spec.plugin_path)});
    for (const auto& sink : spec.sinks) add(binds, {parent_of(sink.path), parent_of(sink.path)});
  }
  if (spec.container)
    for (const auto& text : spec.container->binds) add(binds, user_bind(text));
  return binds;
}

std::string runtime_executable(const std::string& runtime) {
  return runtime == "charliecloud" ? "ch-run" : runtime;
}

std::vector<std::string> container_argv(const ContainerSpec& c, const std::vector<Bind>& binds,
                                        const std::vector<std::string>& inner) {
  std::vector<std::string> argv{runtime_executable(c.runtime)};
  const auto append = [&](const std::vector<std::string>& more) { argv.insert(argv.end(), more.begin(), more.end()); };
  if (c.runtime == "apptainer" || c.runtime == "singularity") {
    argv.push_back("exec");
    if (c.gpus > 0) argv.push_back("--nv");
    for (const auto& b : binds) append({"--bind", b.src + ":" + b.dst});
    append(c.extra_args);
    argv.push_back(c.image);
  } else if (c.runtime == "charliecloud") {
    for (const auto& b : binds)
      if (!inside(b.dst, "/tmp")) append({"-b", b.src + ":" + b.dst});
    append(c.extra_args);
    append({c.image, "--"});
  } else {  // podman
    append({"run", "--rm"});
    if (c.gpus > 0) append({"--device", "nvidia.com/gpu=all"});
    for (const auto& b : binds) append({"-v", b.src + ":" + b.dst});
    append(c.extra_args);
    if (c.image_is_reference) {
      const std::string prefix = "docker://";
      argv.push_back(c.image.rfind(prefix, 0) == 0 ? c.image.substr(prefix.size()) : c.image);
    } else {
      append({"--rootfs", c.image});
    }
  }
  append(inner);
  return argv;
}

std::string check_binds(const ContainerSpec& c, const std::vector<Bind>& binds) {
  if (c.runtime != "charliecloud") return "";
  std::error_code ec;
  if (!fs::is_directory(c.image, ec)) return "";  // a SquashFS image: ch-run says what it lacks
  for (const auto& b : binds) {
    if (inside(b.dst, "/tmp") || fs::is_directory(c.image + b.dst, ec)) continue;
    return "Charliecloud cannot mount " + b.src + " at " + b.dst + ": the image " + c.image +
           " has no such directory and is read-only. Build the image with scripts/build-image.sh "
           "--mount-point " + b.dst + " (it creates the directory), or keep the workspace and cache under /tmp";
  }
  return "";
}

}  // namespace cadenza
