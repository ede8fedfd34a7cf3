#include "process_identity.h"

#include <unistd.h>

#include <fstream>
#include <sstream>

namespace cadenza {

namespace {

// Field 22 of /proc/<pid>/stat. The command name (field 2) is in parentheses
// and may itself contain spaces and parentheses, so parse from the last ')'.
std::optional<uint64_t> start_ticks_of(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!in || !std::getline(in, stat)) return std::nullopt;
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(stat.substr(close + 1));
  std::string field;
  // After ')' come fields 3..; start time is field 22, the 20th of these.
  for (int k = 3; k <= 22; ++k) {
    if (!(rest >> field)) return std::nullopt;
    // A zombie (killed, not yet reaped by its parent) is dead for us.
    if (k == 3 && (field == "Z" || field == "X")) return std::nullopt;
  }
  try {
    return std::stoull(field);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

const std::string& this_host() {
  static const std::string host = [] {
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) != 0) return std::string("localhost");
    return std::string(name);
  }();
  return host;
}

ProcessIdentity ProcessIdentity::self() {
  ProcessIdentity id;
  id.host = this_host();
  id.pid = static_cast<int>(::getpid());
  id.start_ticks = start_ticks_of(id.pid).value_or(0);
  return id;
}

std::optional<ProcessIdentity> ProcessIdentity::of_pid(int pid) {
  auto ticks = start_ticks_of(pid);
  if (!ticks) return std::nullopt;
  return ProcessIdentity{this_host(), pid, *ticks};
}

bool ProcessIdentity::on_this_host() const { return host == this_host(); }

bool ProcessIdentity::alive() const {
  if (!on_this_host() || pid <= 0) return false;
  auto ticks = start_ticks_of(pid);
  return ticks && *ticks == start_ticks;
}

nlohmann::json ProcessIdentity::to_json() const {
  return {{"host", host}, {"pid", pid}, {"start_ticks", start_ticks}};
}

ProcessIdentity ProcessIdentity::from_json(const nlohmann::json& j) {
  return ProcessIdentity{j.at("host").get<std::string>(), j.at("pid").get<int>(),
                         j.at("start_ticks").get<uint64_t>()};
}

}  // namespace cadenza
