// backend_local, driven through the SDK interface exactly as the
// orchestrator drives it, with /bin/sh jobs.
#include <gmock/gmock.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include "plugin_library.h"
#include "test_util.h"

namespace cadenza {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

struct Host : sdk::BackendHost {
  std::map<sdk::JobHandle, std::vector<std::string>> lines;
  void job_output(const sdk::JobHandle& h, std::string_view line) override { lines[h].emplace_back(line); }
};

using sdk::Outcome;

struct Timeline {
  Clock::time_point start, end;
  sdk::JobUpdate final;
};

class LocalBackendTest : public ::testing::Test {
 protected:
  std::shared_ptr<sdk::Backend> make(const std::string& config) {
    auto backend = PluginLibrary::load(test::plugin_dir() + "/cadenza-backend_local.so")->create_backend();
    backend->configure(config, host_);
    return backend;
  }
  sdk::JobRequest job(const std::string& name, const std::string& script, int cpus = 1) {
    sdk::JobRequest r;
    r.name = name;
    r.argv = {"/bin/sh", "-c", script};
    r.workdir = dir_.str();
    r.log_path = dir_.str() + "/" + name + ".log";
    r.run_dir = dir_.str() + "/runs/" + name;
    std::filesystem::create_directories(r.run_dir);
    r.resources.cpus = cpus;
    return r;
  }
  // Runs until every job finished; returns when each started and ended.
  std::map<sdk::JobHandle, Timeline> drain(sdk::Backend& b, size_t jobs, double limit_s = 20) {
    std::map<sdk::JobHandle, Timeline> t;
    size_t done = 0;
    const auto deadline = Clock::now() + std::chrono::duration<double>(limit_s);
    while (done < jobs && Clock::now() < deadline) {
      for (const auto& u : b.wait(100)) {
        if (u.state == sdk::JobState::kRunning) t[u.handle].start = Clock::now();
        else if (u.state == sdk::JobState::kFinished) {
          t[u.handle].end = Clock::now();
          t[u.handle].final = u;
          ++done;
        }
      }
    }
    EXPECT_EQ(done, jobs) << "jobs did not finish in time";
    return t;
  }
  static bool overlap(const Timeline& a, const Timeline& b) { return a.start < b.end && b.start < a.end; }

  test::TempDir dir_;
  Host host_;
};

TEST_F(LocalBackendTest, IndependentJobsOverlapWithTwoSlots) {
  auto b = make(R"({"max_jobs": 2, "cpus": 2})");
  auto x = b->submit(job("x", "sleep 0.4")), y = b->submit(job("y", "sleep 0.4"));
  auto t = drain(*b, 2);
  EXPECT_TRUE(overlap(t[x], t[y]));
  EXPECT_EQ(t[x].final.outcome, Outcome::kSucceeded);
}

TEST_F(LocalBackendTest, OneSlotSerialises) {
  auto b = make(R"({"max_jobs": 1})");
  auto x = b->submit(job("x", "sleep 0.3")), y = b->submit(job("y", "sleep 0.3"));
  auto t = drain(*b, 2);
  EXPECT_FALSE(overlap(t[x], t[y]));
}

TEST_F(LocalBackendTest, DeclaredCpusBoundParallelism) {
  auto b = make(R"({"max_jobs": 4, "cpus": 2})");
  auto x = b->submit(job("x", "sleep 0.3", 2)), y = b->submit(job("y", "sleep 0.3", 2));
  auto t = drain(*b, 2);
  EXPECT_FALSE(overlap(t[x], t[y]));
}

TEST_F(LocalBackendTest, MemoryBoundsParallelism) {
  auto b = make(R"({"max_jobs": 4, "mem": "1G"})");
  auto rx = job("x", "sleep 0.3"), ry = job("y", "sleep 0.3");
  rx.resources.mem_bytes = ry.resources.mem_bytes = 700u << 20;
  auto x = b->submit(rx), y = b->submit(ry);
  auto t = drain(*b, 2);
  EXPECT_FALSE(overlap(t[x], t[y]));
}

TEST_F(LocalBackendTest, TooManyGpusIsRefusedAtSubmit) {
  auto b = make(R"({"gpus": 0})");
  auto r = job("g", "true");
  r.resources.gpus = 1;
  EXPECT_THROW(b->submit(r), sdk::PluginError);
}

TEST_F(LocalBackendTest, OutputGoesToLogAndHostLineByLine) {
  auto b = make("{}");
  auto id = b->submit(job("out", "echo one; echo two >&2; printf three"));
  auto t = drain(*b, 1);
  EXPECT_EQ(t[id].final.outcome, Outcome::kSucceeded);
  EXPECT_EQ(host_.lines[id], (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_EQ(dir_.read("out.log"), "one\ntwo\nthree");
}

TEST_F(LocalBackendTest, ReportsExitCodeAndSignal) {
  auto b = make("{}");
  auto e = b->submit(job("e", "exit 7")), s = b->submit(job("s", "kill -SEGV $$"));
  auto t = drain(*b, 2);
  EXPECT_EQ(t[e].final.outcome, Outcome::kFailed);
  EXPECT_EQ(t[e].final.exit_code, 7);
  EXPECT_EQ(t[s].final.outcome, Outcome::kFailed);
  EXPECT_EQ(t[s].final.signal, SIGSEGV);
}

TEST_F(LocalBackendTest, CancelStopsARunningJobAndItsChildren) {
  auto b = make(R"({"kill_grace_s": 5})");
  auto id = b->submit(job("c", "sleep 30 & sleep 30; echo never"));
  // Let it start.
  while (b->wait(50).empty()) {
  }
  const auto t0 = Clock::now();
  b->cancel(id);
  auto t = drain(*b, 1);
  EXPECT_EQ(t[id].final.outcome, Outcome::kCancelled);
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 3.0);
}

TEST_F(LocalBackendTest, CancelEscalatesToSigkillAfterGrace) {
  auto b = make(R"({"kill_grace_s": 0.3})");
  auto id = b->submit(job("ignores_sigterm", "trap '' TERM; echo ready; sleep 30"));
  while (host_.lines[id].empty()) b->wait(50);  // the trap is set
  b->cancel(id);
  auto t = drain(*b, 1, 10);
  EXPECT_EQ(t[id].final.outcome, Outcome::kCancelled);
  EXPECT_EQ(t[id].final.signal, SIGKILL);
}

TEST_F(LocalBackendTest, CancelOfAQueuedJob) {
  auto b = make(R"({"max_jobs": 1})");
  auto x = b->submit(job("x", "sleep 0.2")), y = b->submit(job("y", "echo never"));
  b->cancel(y);
  auto t = drain(*b, 2);
  EXPECT_EQ(t[y].final.outcome, Outcome::kNotRun);
  EXPECT_EQ(t[x].final.outcome, Outcome::kSucceeded);
  EXPECT_TRUE(host_.lines[y].empty());
}

TEST_F(LocalBackendTest, TimeLimitIsReportedAsATimeLimit) {
  auto b = make(R"({"kill_grace_s": 1})");
  auto r = job("slow", "sleep 30");
  r.resources.time_limit_s = 1;
  auto id = b->submit(r);
  auto t = drain(*b, 1);
  EXPECT_EQ(t[id].final.outcome, Outcome::kTimedOut);
  EXPECT_THAT(t[id].final.message, HasSubstr("exceeded its time limit of 1 s"));
}

// A job outlives the backend (the process) that started it, and another
// backend instance (a later process) follows it by its handle.
TEST_F(LocalBackendTest, JobsOutliveTheBackendAndAreFollowedByAttach) {
  sdk::JobHandle handle;
  {
    auto first = make("{}");
    handle = first->submit(job("long", "echo started; sleep 1; echo finished"));
    while (host_.lines[handle].empty()) first->wait(50);
  }  // the first "process" is gone; its job is not
  auto second = make("{}");
  second->attach({handle});
  auto t = drain(*second, 1);
  EXPECT_EQ(t[handle].final.state, sdk::JobState::kFinished);
  EXPECT_EQ(t[handle].final.exit_code, -1);  // not our child: unknowable, the result file says
  EXPECT_EQ(dir_.read("long.log"), "started\nfinished\n");
}

TEST_F(LocalBackendTest, AttachReportsAJobThatNeverStartedAsNotRun) {
  sdk::JobHandle queued;
  {
    auto first = make(R"({"max_jobs": 1})");
    first->submit(job("a", "sleep 0.3"));
    queued = first->submit(job("b", "true"));
    first->wait(10);
  }
  auto second = make("{}");
  second->attach({queued});
  auto t = drain(*second, 1);
  EXPECT_EQ(t[queued].final.outcome, Outcome::kNotRun);
}

TEST_F(LocalBackendTest, AttachCancelStopsAFollowedJob) {
  sdk::JobHandle handle;
  {
    auto first = make("{}");
    handle = first->submit(job("victim", "echo up; sleep 30"));
    while (host_.lines[handle].empty()) first->wait(50);
  }
  auto second = make(R"({"kill_grace_s": 2})");
  second->attach({handle});
  const auto t0 = Clock::now();
  second->cancel(handle);
  auto t = drain(*second, 1);
  EXPECT_EQ(t[handle].final.state, sdk::JobState::kFinished);
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 3.0);
}

TEST_F(LocalBackendTest, AttachRefusesForeignHandles) {
  auto b = make("{}");
  EXPECT_THROW(b->attach({"no-colon-here"}), sdk::PluginError);
  EXPECT_THROW(b->attach({"some-other-host-name:/tmp/x"}), sdk::PluginError);
}

TEST_F(LocalBackendTest, SizesAreReadLikeTheWorkflowsOwn) {
  EXPECT_NO_THROW(make(R"({"mem": "1GB"})"));  // refused before: one parser for both now
  EXPECT_NO_THROW(make(R"({"mem": "1.5GiB"})"));
  EXPECT_THROW(make(R"({"mem": "1e30G"})"), sdk::PluginError);
}

TEST_F(LocalBackendTest, BadConfigNamesTheKey) {
  auto backend = PluginLibrary::load(test::plugin_dir() + "/cadenza-backend_local.so")->create_backend();
  try {
    backend->configure(R"({"max_job": 2})", host_);
    ADD_FAILURE();
  } catch (const sdk::PluginError& e) {
    EXPECT_THAT(e.what(), HasSubstr("unknown key 'max_job'"));
  }
}

}  // namespace
}  // namespace cadenza
