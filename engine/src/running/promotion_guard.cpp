#include "promotion_guard.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "error.h"
#include "run_record.h"

namespace cadenza {

namespace {

// A chain of runs each superseding the previous is as long as the kill -9s
// in a row; past this many something is wrong and the job keeps its hands off.
constexpr int kMaxChain = 64;

std::string handle_of(const RunStatus& run, const std::string& stage, int attempt) {
  auto it = run.state.find(stage);
  if (it == run.state.end()) return "";
  for (const auto& a : it->second.attempts)
    if (a.attempt == attempt) return a.handle;
  return "";
}

}  // namespace

PromotionGuard::PromotionGuard(const std::string& runs_dir) : runs_dir_(runs_dir) {
  std::error_code ec;
  std::filesystem::create_directories(runs_dir, ec);
  const std::string path = runs_dir + "/promote.lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error("cannot open " + path + ": " + std::strerror(errno));
  while (::flock(fd_, LOCK_EX) != 0)
    if (errno != EINTR) {
      const std::string why = std::strerror(errno);
      ::close(fd_);
      throw Error("cannot lock " + path + ": " + why);
    }
}

PromotionGuard::~PromotionGuard() {
  if (fd_ >= 0) ::close(fd_);
}

std::string PromotionGuard::refusal(const std::string& run_id, const std::string& stage,
                                    int attempt) const {
  auto own = read_run(runs_dir_, run_id);
  if (!own || own->superseded_by.empty()) return "";
  const std::string handle = handle_of(*own, stage, attempt);
  std::string from = run_id;
  std::string next = own->superseded_by;
  for (int i = 0; i < kMaxChain && !next.empty(); ++i) {
    auto later = read_run(runs_dir_, next);
    if (!later) return "";  // the later run's record is gone (removed by hand): nothing to protect
    auto st = later->state.find(stage);
    const bool waits = !handle.empty() && st != later->state.end() && st->second.waiting_for == handle;
    if (!waits)
      return "run " + from + " was taken over by run " + next +
             " after its driver died, and that run did not wait for this job: the outputs "
             "were stored in the cache but not put in place over that run's";
    from = next;
    next = later->superseded_by;
  }
  return "";
}

std::string runs_dir_of(const std::string& attempt_dir, const std::string& run_id) {
  for (std::filesystem::path p(attempt_dir); p.has_parent_path() && p != p.root_path();
       p = p.parent_path())
    if (p.filename() == run_id) return p.parent_path().string();
  return "";
}

}  // namespace cadenza
