#include "dvclive_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "file_identity.h"

namespace cadenza::script {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string cell; std::getline(in, cell, '\t');) out.push_back(cell);
  return out;
}

std::optional<double> parse_double(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return std::nullopt;
  return v;
}

// The tags under plots/metrics: "train/loss" for plots/metrics/train/loss.tsv.
std::map<std::string, std::string> tsv_files(const std::string& dir) {
  std::map<std::string, std::string> out;  // path -> tag
  const fs::path root = fs::path(dir) / "plots" / "metrics";
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() != ".tsv" || !it->is_regular_file(ec)) continue;
    std::string tag = it->path().lexically_relative(root).replace_extension().generic_string();
    out[it->path().string()] = tag;
  }
  return out;
}

void flatten(const nlohmann::json& j, const std::string& prefix,
             std::vector<std::pair<std::string, double>>& out) {
  for (const auto& [k, v] : j.items()) {
    const std::string name = prefix.empty() ? k : prefix + "/" + k;
    if (v.is_object()) flatten(v, name, out);
    else if (v.is_number() && name != "step") out.emplace_back(name, v.get<double>());
  }
}

constexpr size_t kTailBytes = 64;

std::string tail_before(const std::string& path, uint64_t offset) {
  const size_t n = static_cast<size_t>(std::min<uint64_t>(offset, kTailBytes));
  std::string out(n, '\0');
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  const ssize_t got = ::pread(fd, out.data(), n, static_cast<off_t>(offset - n));
  ::close(fd);
  out.resize(got > 0 ? static_cast<size_t>(got) : 0);
  return out;
}

}  // namespace

DvcliveFollower::DvcliveFollower(std::string dir, Warn warn) : dir_(std::move(dir)), warn_(std::move(warn)) {
  old_summary_ = file_identity(dir_ + "/metrics.json");
  for (const auto& [path, tag] : tsv_files(dir_)) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) continue;
    Tsv& tsv = files_[path];
    tsv.inode = st.st_ino;
    tsv.offset = static_cast<uint64_t>(st.st_size);
    tsv.tail = tail_before(path, tsv.offset);
    tsv.step_column = tsv.value_column = -2;  // mid-file: the header is behind us
  }
}

void DvcliveFollower::read_tsv(const std::string& path, const std::string& tag, Tsv& tsv,
                               const OnUpdate& on_update) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && (st.st_ino != tsv.inode || static_cast<uint64_t>(st.st_size) < tsv.offset ||
                                 tail_before(path, tsv.offset) != tsv.tail)) {
    tsv = Tsv{};  // dvclive started the file anew
    tsv.inode = st.st_ino;
  }
  char buf[1 << 16];
  ssize_t n;
  while ((n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(tsv.offset))) > 0) {
    tsv.offset += static_cast<uint64_t>(n);
    tsv.partial.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  tsv.tail = tail_before(path, tsv.offset);
  for (size_t nl; (nl = tsv.partial.find('\n')) != std::string::npos; tsv.partial.erase(0, nl + 1)) {
    std::string line = tsv.partial.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    ++tsv.line_number;
    const auto cells = split_tabs(line);
    if (tsv.step_column == -1) {  // the header: timestamp, step, <name>
      for (size_t c = 0; c < cells.size(); ++c) {
        if (cells[c] == "step") tsv.step_column = static_cast<int>(c);
        else if (cells[c] != "timestamp") tsv.value_column = static_cast<int>(c);
      }
      if (tsv.step_column < 0 || tsv.value_column < 0) {
        if (warnings_++ < 10)
          warn_(path + ": not a dvclive metrics file (its header is \"" + line +
                "\", not \"timestamp step <name>\"): not read");
        tsv.step_column = tsv.value_column = -3;
      }
      continue;
    }
    if (tsv.step_column == -3) continue;
    if (tsv.step_column == -2) {  // resumed mid-file: dvclive's order
      tsv.step_column = 1;
      tsv.value_column = 2;
    }
    const size_t need = static_cast<size_t>(std::max(tsv.step_column, tsv.value_column));
    const auto step = cells.size() > need ? parse_double(cells[tsv.step_column]) : std::nullopt;
    const auto value = cells.size() > need ? parse_double(cells[tsv.value_column]) : std::nullopt;
    if (!step || !value || *step < 0) {
      if (warnings_++ < 10)
        warn_(path + ":" + std::to_string(tsv.line_number) + ": skipped, not \"timestamp step value\"");
      continue;
    }
    MetricUpdate u;
    u.step = static_cast<int64_t>(*step);
    last_step_ = std::max(last_step_, *u.step);
    u.scalars.emplace_back(tag, *value);
    reported_.insert(tag);
    on_update(std::move(u));
  }
}

void DvcliveFollower::read_summary(const OnUpdate& on_update) {
  const std::string now = file_identity(dir_ + "/metrics.json");
  if (now.empty() || now == old_summary_) return;  // none, or not this run's
  std::ifstream in(dir_ + "/metrics.json");
  if (!in) return;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception&) {
    warn_(dir_ + "/metrics.json: not JSON: not read");
    return;
  }
  if (!j.is_object()) return;
  std::vector<std::pair<std::string, double>> values;
  flatten(j, "", values);
  MetricUpdate u;
  u.step = j.contains("step") && j["step"].is_number_integer() ? j["step"].get<int64_t>() : last_step_;
  for (auto& [tag, v] : values)
    if (!reported_.count(tag)) u.scalars.emplace_back(tag, v);
  if (!u.scalars.empty()) on_update(std::move(u));
}

void DvcliveFollower::poll(const OnUpdate& on_update, bool final) {
  for (const auto& [path, tag] : tsv_files(dir_)) read_tsv(path, tag, files_[path], on_update);
  if (final) read_summary(on_update);
}

}  // namespace cadenza::script
