#include "outcome_resolver.h"

#include <filesystem>

#include "fs_util.h"
#include "subprocess.h"

namespace cadenza {

AttemptOutcome resolve_outcome(const sdk::JobUpdate& update, const std::optional<JobResult>& result,
                               bool user_cancelled) {
  using sdk::Outcome;
  if (result && result->outcome == Outcome::kSucceeded) return {Outcome::kSucceeded, ""};
  if (user_cancelled) return {Outcome::kCancelled, ""};
  if (sdk::outcome_is_external_stop(update.outcome) || update.outcome == Outcome::kNotRun ||
      update.outcome == Outcome::kCancelled) {
    std::string why = update.message;
    if (why.empty() && result) why = result->error;
    return {update.outcome, why};
  }
  if (result) return {result->outcome, result->error};
  std::string why;
  if (update.signal) why = "exec-stage was killed by " + describe_signal(update.signal);
  else if (!update.message.empty()) why = update.message;
  else if (update.exit_code >= 0) why = "exec-stage exited with code " + std::to_string(update.exit_code);
  else why = "the job ended without a result file (exit status unknown)";
  if (update.signal && !update.message.empty()) why += " (" + update.message + ")";
  return {Outcome::kFailed, why};
}

std::optional<JobResult> read_job_result(const std::string& run_dir) {
  const std::string path = run_dir + "/result.json";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::nullopt;
  try {
    return job_result_from_json(nlohmann::json::parse(read_file(path)), path);
  } catch (const std::exception&) {
    return std::nullopt;  // torn by a kill mid-write: as if absent
  }
}

}  // namespace cadenza
