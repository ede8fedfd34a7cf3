#include "stage_context.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "fs_util.h"

namespace cadenza {

namespace {

template <typename Map>
std::string names_of(const Map& m) {
  std::string out;
  for (const auto& [k, v] : m) out += (out.empty() ? "" : ", ") + k;
  return out.empty() ? "none" : out;
}

}  // namespace

StageContextImpl::StageContextImpl(const JobSpec& spec,
                                   std::map<std::string, std::string> outs_staging,
                                   MetricsRecorder& metrics, const std::atomic<bool>& cancel_flag)
    : spec_(spec),
      params_text_(spec.params.dump()),
      outs_staging_(std::move(outs_staging)),
      metrics_(metrics),
      cancel_flag_(cancel_flag) {}

std::string StageContextImpl::input(std::string_view name) const {
  auto it = spec_.deps.find(std::string(name));
  if (it == spec_.deps.end())
    throw sdk::PluginError("stage '" + spec_.stage + "' needs a dep named '" + std::string(name) +
                           "'; declare it in workflow.toml: deps = { " + std::string(name) +
                           " = \"path\" } (declared: " + names_of(spec_.deps) + ")");
  return spec_.workspace + "/" + it->second;
}

std::vector<std::string> StageContextImpl::input_names() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : spec_.deps) out.push_back(k);
  return out;
}

std::string StageContextImpl::output(std::string_view name) const {
  auto it = outs_staging_.find(std::string(name));
  if (it == outs_staging_.end())
    throw sdk::PluginError("stage '" + spec_.stage + "' needs an out named '" +
                           std::string(name) + "'; declare it in workflow.toml: outs = { " +
                           std::string(name) + " = \"path\" } (declared: " +
                           names_of(outs_staging_) + ")");
  return it->second;
}

std::string StageContextImpl::scratch_dir() const {
  // Created on first use: most stages never ask for one.
  std::error_code ec;
  std::filesystem::create_directories(spec_.scratch_dir, ec);
  if (ec)
    throw sdk::PluginError("cannot create the scratch directory " + spec_.scratch_dir + ": " +
                           ec.message());
  return spec_.scratch_dir;
}

std::vector<std::string> StageContextImpl::output_names() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : outs_staging_) out.push_back(k);
  return out;
}

void StageContextImpl::log(sdk::LogLevel level, std::string_view message) {
  switch (level) {
    case sdk::LogLevel::kDebug: spdlog::debug("{}", message); break;
    case sdk::LogLevel::kInfo: spdlog::info("{}", message); break;
    case sdk::LogLevel::kWarning: spdlog::warn("{}", message); break;
    case sdk::LogLevel::kError: spdlog::error("{}", message); break;
  }
}

void StageContextImpl::progress(double done, double total, std::string_view unit) {
  // Written at most twice a second: stages may call this per step.
  const auto now = std::chrono::steady_clock::now();
  if (done < total && now - last_progress_write_ < std::chrono::milliseconds(500)) return;
  last_progress_write_ = now;
  try {
    write_file_atomic(spec_.run_dir + "/progress.json",
                      nlohmann::json{{"done", done}, {"total", total}, {"unit", unit}}.dump(),
                      Durability::kRenameOnly);
  } catch (...) {
    // Progress is advisory; a full disk must not fail the stage here.
  }
}

}  // namespace cadenza
