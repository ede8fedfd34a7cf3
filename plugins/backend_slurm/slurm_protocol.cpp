#include "slurm_protocol.h"

#include <cctype>

#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cadenza/sdk/error.h"

namespace cadenza::backend_slurm {

using nlohmann::json;

namespace {

std::string string_at(const json& v, const std::string& key) {
  if (!v.is_string()) throw sdk::PluginError(key + " must be a string (got " + v.dump() + ")");
  return v.get<std::string>();
}

std::vector<std::string> strings_at(const json& v, const std::string& key) {
  if (!v.is_array()) throw sdk::PluginError(key + " must be an array of strings (got " + v.dump() + ")");
  std::vector<std::string> out;
  for (const auto& item : v) out.push_back(string_at(item, key + " entries"));
  return out;
}

std::string joined(const std::vector<std::string>& parts, const char* sep) {
  std::string s;
  for (const auto& p : parts) s += (s.empty() ? "" : sep) + p;
  return s;
}

}  // namespace

SlurmConfig parse_config(const std::string& config_json, const SlurmConfig& base) {
  json j = json::object();
  try {
    if (!config_json.empty()) j = json::parse(config_json);
  } catch (const json::exception& e) {
    throw sdk::PluginError(std::string("backend_slurm: config is not JSON: ") + e.what());
  }
  SlurmConfig c = base;
  for (auto& [key, v] : j.items()) {
    if (key == "partition") c.partition = string_at(v, key);
    else if (key == "account") c.account = string_at(v, key);
    else if (key == "qos") c.qos = string_at(v, key);
    else if (key == "constraint") c.constraint = string_at(v, key);
    else if (key == "exclude") c.exclude = strings_at(v, key);
    else if (key == "extra_args") c.extra_args = strings_at(v, key);
    else if (key == "export") {
      for (const auto& var : strings_at(v, key)) c.export_vars.push_back(var);
    } else if (key == "gpu_option") {
      c.gpu_option = string_at(v, key);
      if (c.gpu_option != "gres" && c.gpu_option != "gpus")
        throw sdk::PluginError("gpu_option must be \"gres\" (--gres=gpu:N) or \"gpus\" (--gpus=N)");
    } else if (key == "array_max_running") {
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 100000)
        throw sdk::PluginError("array_max_running must be an integer from 0 (no limit) to 100000");
      c.array_max_running = v.get<int>();
    } else if (key == "requeue") {
      if (!v.is_boolean()) throw sdk::PluginError("requeue must be true or false");
      c.requeue = v.get<bool>();
    } else if (key == "poll_max_s") {
      if (!v.is_number() || v.get<double>() < 0.1 || v.get<double>() > 600)
        throw sdk::PluginError("poll_max_s must be a number of seconds from 0.1 to 600");
      c.poll_max_s = v.get<double>();
    } else if (key == "max_jobs") {
      // -j: SLURM's own limits apply; accepted so that -j works with every backend.
    } else {
      throw sdk::PluginError("unknown key '" + key +
                             "' (known: partition, account, qos, constraint, exclude, gpu_option, "
                             "extra_args, export, array_max_running, requeue, poll_max_s)");
    }
  }
  for (const auto& var : c.export_vars)
    if (var.empty() || var.find_first_of(",=") != std::string::npos)
      throw sdk::PluginError("export entries must be variable names (got '" + var + "')");
  return c;
}

std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string batch_script(const std::vector<std::string>& argv) {
  std::string line = "exec";
  for (const auto& a : argv) line += " " + shell_quote(a);
  return "#!/bin/sh\n# written by backend_slurm: the job is this one command\n" + line + "\n";
}

std::string slurm_minutes(int64_t seconds) { return std::to_string(std::max<int64_t>(1, (seconds + 59) / 60)); }

std::string slurm_megabytes(uint64_t bytes) {
  return std::to_string(std::max<uint64_t>(1, (bytes + (1u << 20) - 1) >> 20)) + "M";
}

std::string array_script(const std::vector<sdk::JobRequest>& requests) {
  std::string s = "#!/bin/sh\n# written by backend_slurm: task k of the array runs command k\n"
                  "case \"$SLURM_ARRAY_TASK_ID\" in\n";
  for (size_t k = 0; k < requests.size(); ++k) {
    std::string line = "exec";
    for (const auto& a : requests[k].argv) line += " " + shell_quote(a);
    s += std::to_string(k) + ") " + line + " >>" + shell_quote(requests[k].log_path) + " 2>&1 ;;\n";
  }
  return s + "esac\necho \"backend_slurm: no command for array task $SLURM_ARRAY_TASK_ID\" >&2\nexit 2\n";
}

bool alike_for_array(const std::vector<sdk::JobRequest>& requests) {
  for (const auto& r : requests) {
    const auto& f = requests.front();
    if (r.workdir != f.workdir || r.run_id != f.run_id ||
        r.exclude_nodes != f.exclude_nodes || r.after_any != f.after_any || r.backend_config_json != f.backend_config_json ||
        r.resources.cpus != f.resources.cpus || r.resources.gpus != f.resources.gpus ||
        r.resources.mem_bytes != f.resources.mem_bytes ||
        r.resources.time_limit_s != f.resources.time_limit_s)
      return false;
  }
  return !requests.empty();
}

std::optional<std::string> array_dependency(const std::vector<sdk::JobRequest>& chunk) {
  const std::vector<sdk::JobHandle>& first = chunk.front().after;
  bool same = true;
  for (const auto& r : chunk) same = same && r.after == first;
  if (same) return first.empty() ? "" : "afterok:" + joined(first, ":");
  std::vector<std::string> arrays;
  for (size_t p = 0; p < first.size(); ++p) {
    const std::string& h = first[p];
    if (h.size() < 3 || h.compare(h.size() - 2, 2, "_0") != 0) return std::nullopt;
    const std::string array = h.substr(0, h.size() - 2);
    for (size_t k = 0; k < chunk.size(); ++k)
      if (chunk[k].after.size() != first.size() || chunk[k].after[p] != array + "_" + std::to_string(k))
        return std::nullopt;
    arrays.push_back(array);
  }
  return "aftercorr:" + joined(arrays, ":");
}

std::vector<std::pair<size_t, size_t>> array_chunks(size_t count, size_t max_size) {
  std::vector<std::pair<size_t, size_t>> chunks;  // (first request, size)
  for (size_t start = 0; start < count; start += max_size) chunks.push_back({start, std::min(max_size, count - start)});
  return chunks;
}

std::vector<std::string> sbatch_args(const sdk::JobRequest& r, const SlurmConfig& c,
                                     const std::string& script_path, const std::optional<std::string>& dep) {
  std::vector<std::string> a{"--parsable",
                             "--job-name=" + r.name,
                             "--comment=cadenza:" + r.run_id,
                             "--output=" + r.log_path,
                             "--open-mode=append",  // a requeued job keeps its first part
                             "--chdir=" + r.workdir,
                             "--cpus-per-task=" + std::to_string(std::max(1, r.resources.cpus)),
                             "--export=" + joined(c.export_vars, ",")};
  a.push_back(c.requeue ? "--requeue" : "--no-requeue");
  if (r.resources.mem_bytes > 0) a.push_back("--mem=" + slurm_megabytes(r.resources.mem_bytes));
  if (r.resources.time_limit_s > 0) a.push_back("--time=" + slurm_minutes(r.resources.time_limit_s));
  if (r.resources.gpus > 0)
    a.push_back(c.gpu_option == "gpus" ? "--gpus=" + std::to_string(r.resources.gpus)
                                       : "--gres=gpu:" + std::to_string(r.resources.gpus));
  if (!c.partition.empty()) a.push_back("--partition=" + c.partition);
  if (!c.account.empty()) a.push_back("--account=" + c.account);
  if (!c.qos.empty()) a.push_back("--qos=" + c.qos);
  if (!c.constraint.empty()) a.push_back("--constraint=" + c.constraint);
  std::vector<std::string> exclude = c.exclude;
  exclude.insert(exclude.end(), r.exclude_nodes.begin(), r.exclude_nodes.end());
  if (!exclude.empty()) a.push_back("--exclude=" + joined(exclude, ","));
  std::vector<std::string> dependency;
  if (dep) {
    if (!dep->empty()) dependency.push_back(*dep);
  } else if (!r.after.empty()) {
    dependency.push_back("afterok:" + joined(r.after, ":"));
  }
  if (!r.after_any.empty()) dependency.push_back("afterany:" + joined(r.after_any, ":"));
  if (!dependency.empty()) {
    a.push_back("--dependency=" + joined(dependency, ","));
    a.push_back("--kill-on-invalid-dep=yes");  // never pending for ever
  }
  a.insert(a.end(), c.extra_args.begin(), c.extra_args.end());
  a.push_back(script_path);
  return a;
}

std::optional<std::string> parse_job_id(const std::string& out) {
  std::string id = out.substr(0, out.find_first_of(";\n"));
  if (id.empty() || id.find_first_not_of("0123456789_") != std::string::npos) return std::nullopt;
  return id;
}

std::map<std::string, QueueEntry> parse_squeue(const std::string& output) {
  std::map<std::string, QueueEntry> jobs;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> f;
    size_t start = 0, bar;
    while ((bar = line.find('|', start)) != std::string::npos) {
      f.push_back(line.substr(start, bar - start));
      start = bar + 1;
    }
    f.push_back(line.substr(start));
    if (f.size() < 5 || f[0].empty()) continue;
    QueueEntry e{f[0], f[1], f[2], f[3], false};
    if (e.nodes == "(null)") e.nodes.clear();
    // %S is set even for a job cancelled while pending: only a job that got
    // nodes ever ran.
    e.started = !e.nodes.empty();
    jobs[e.id] = e;
  }
  return jobs;
}

JobView view_of(const std::string& state, const std::string& reason, bool ever_ran) {
  using sdk::JobState;
  using sdk::Outcome;
  static const std::set<std::string> queued{"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED",
                                            "RESV_DEL_HOLD", "SUSPENDED", "STOPPED", "RESIZING"};
  static const std::set<std::string> running{"RUNNING", "CONFIGURING", "COMPLETING", "SIGNALING",
                                             "STAGE_OUT"};
  if (queued.count(state)) return {JobState::kQueued, Outcome::kSucceeded, ""};
  if (running.count(state)) return {JobState::kRunning, Outcome::kSucceeded, ""};
  const std::string why = state + (reason.empty() || reason == "None" ? "" : " (" + reason + ")");
  if (state == "COMPLETED") return {JobState::kFinished, Outcome::kSucceeded, ""};
  if (state == "TIMEOUT" || state == "DEADLINE") return {JobState::kFinished, Outcome::kTimedOut, why};
  if (state == "OUT_OF_MEMORY") return {JobState::kFinished, Outcome::kOutOfMemory, why};
  if (state == "NODE_FAIL" || state == "BOOT_FAIL") return {JobState::kFinished, Outcome::kNodeFailure, why};
  if (state == "PREEMPTED") return {JobState::kFinished, Outcome::kPreempted, why};
  if (state == "CANCELLED")
    return {JobState::kFinished,
            ever_ran && reason.find("Dependency") == std::string::npos ? Outcome::kCancelled
                                                                        : Outcome::kNotRun,
            why};
  return {JobState::kFinished, Outcome::kFailed, why};  // FAILED, SPECIAL_EXIT, ...
}

// Fields are "Key=value" separated by spaces, but a value may hold spaces
// (StdOut=/home/a dir/log.txt, kept byte for byte): a field starts only
// where a word is a key (letters, digits, _ : /) followed by '='; anything
// else belongs to the value before it.
std::map<std::string, std::string> parse_scontrol(const std::string& output) {
  std::map<std::string, std::string> fields;
  std::istringstream lines(output);
  const auto is_key_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':' || c == '/'; };
  for (std::string line; std::getline(lines, line);) {
    std::vector<std::pair<size_t, size_t>> starts;  // (key start, '=' position)
    for (size_t i = 0; i < line.size(); ++i) {
      if ((i > 0 && line[i - 1] != ' ') || !std::isalpha(static_cast<unsigned char>(line[i]))) continue;
      size_t j = i;
      while (j < line.size() && is_key_char(line[j])) ++j;
      if (j < line.size() && line[j] == '=') starts.emplace_back(i, j);
    }
    for (size_t k = 0; k < starts.size(); ++k) {
      const size_t end = k + 1 < starts.size() ? starts[k + 1].first : line.size();
      std::string value = line.substr(starts[k].second + 1, end - starts[k].second - 1);
      value.erase(value.find_last_not_of(' ') + 1);
      fields[line.substr(starts[k].first, starts[k].second - starts[k].first)] = value;
    }
  }
  return fields;
}

}  // namespace cadenza::backend_slurm
