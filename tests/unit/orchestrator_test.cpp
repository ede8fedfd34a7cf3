// The orchestrator's scheduling, failure and retry paths, driven through a
// scripted fake backend (fake_backend.h). Stages that the script lets run
// are real `cadenza exec-stage` jobs of the test worker plugin.
#include <gmock/gmock.h>

#include <cstdlib>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "fake_backend.h"
#include "orchestrator.h"
#include "run_record.h"
#include "test_util.h"

namespace cadenza {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

std::string worker(const std::string& name, const std::string& dep, const std::string& out,
                   const std::string& extra = "") {
  return "[stages." + name + "]\nplugin = \"test_worker\"\ndeps = { in = \"" + dep +
         "\" }\nouts = { out = \"" + out + "\" }\n" + extra + "\n";
}

class OrchestratorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("CADENZA_EXECUTABLE", test::cadenza_binary().c_str(), 1);
    ::setenv("CADENZA_PLUGIN_PATH", test::test_plugin_dir().c_str(), 1);
    dir_.write("data/in.txt", "hello\n");
  }

  // Runs the workflow with the fake backend; fails the test (instead of
  // hanging it) if the run does not end within `limit_s`.
  int run(const std::string& stages, const std::string& workflow_table = "", bool keep_going = false) {
    dir_.write("workflow.toml", "[workflow]\nname = \"t\"\n" + workflow_table + "\n" + stages);
    prepared_ = PreparedWorkflow::load(dir_.str() + "/workflow.toml");
    RunOptions options;
    options.keep_going = keep_going;
    auto orchestrator = std::make_shared<Orchestrator>(
        *prepared_, options, output_,
        [this](const std::string&, const std::string&) { return fake_; });
    auto done = std::async(std::launch::async, [orchestrator] { return orchestrator->run(); });
    if (done.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
      ADD_FAILURE() << "the run did not end:\n" << output_.str();
      std::_Exit(1);  // a hung run cannot be joined
    }
    run_ = read_run(dir_.str() + "/.cadenza/runs");
    return done.get();
  }
  std::string state(const std::string& stage) const { return run_->state.at(stage).state; }
  std::string output() const { return output_.str(); }

  test::TempDir dir_;
  std::shared_ptr<test::FakeBackend> fake_ = std::make_shared<test::FakeBackend>();
  std::unique_ptr<PreparedWorkflow> prepared_;
  std::ostringstream output_;
  std::optional<RunStatus> run_;
};

const std::string kChain = worker("a", "data/in.txt", "out/a") + worker("b", "out/a", "out/b") +
                           worker("c", "out/b", "out/c");

// Defect: a failed stage's held dependents kept the run waiting for ever.
TEST_F(OrchestratorTest, AFailureCancelsHeldDependentsAndEndsTheRun) {
  fake_->script["a"] = {"failed"};
  EXPECT_EQ(run(kChain), 1);
  ASSERT_EQ(fake_->submitted.size(), 3u);  // the whole chain went out, held
  EXPECT_THAT(fake_->cancelled, ElementsAre("b", "c"));
  EXPECT_EQ(state("a"), "failed");
  EXPECT_EQ(state("b"), "not_run");
  EXPECT_EQ(state("c"), "not_run");
  EXPECT_THAT(output(), HasSubstr("1 failed, 2 not run"));
  EXPECT_THAT(output(), Not(HasSubstr("cancelled after")));  // never started: no bogus duration
}

TEST_F(OrchestratorTest, WithoutHeldDependentsPendingStagesAreNotRun) {
  fake_->holds_dependencies = false;
  fake_->script["a"] = {"failed"};
  EXPECT_EQ(run(kChain), 1);
  EXPECT_EQ(fake_->submitted.size(), 1u);
  EXPECT_EQ(state("b"), "not_run");
  EXPECT_THAT(run_->state.at("b").error, HasSubstr("upstream stage 'a' failed"));
}

TEST_F(OrchestratorTest, EachCauseIsRecordedAsItself) {
  const std::string stages = worker("t", "data/in.txt", "out/t") + worker("m", "data/in.txt", "out/m") +
                             worker("n", "data/in.txt", "out/n") + worker("p", "data/in.txt", "out/p") +
                             worker("f", "data/in.txt", "out/f");
  fake_->script = {{"t", {"timed_out"}}, {"m", {"out_of_memory"}}, {"n", {"node_failure"}},
                   {"p", {"preempted", "cancelled"}}, {"f", {"failed"}}};
  EXPECT_EQ(run(stages, "", /*keep_going=*/true), 1);
  EXPECT_EQ(state("t"), "timed_out");
  EXPECT_EQ(state("m"), "out_of_memory");
  EXPECT_EQ(state("n"), "node_failure");
  EXPECT_EQ(state("p"), "cancelled");  // preempted, resubmitted, then cancelled by someone
  EXPECT_EQ(state("f"), "failed");
  EXPECT_THAT(output(), HasSubstr("[t] TIMED OUT"));
  EXPECT_THAT(output(), HasSubstr("1 failed, 1 timed out, 1 out of memory, 1 node failure, 1 cancelled"));
}

TEST_F(OrchestratorTest, RetriesEscalateTimeAndMemoryAndAvoidFailedNodes) {
  const std::string res = "resources = { time = \"10s\", mem = \"1G\" }\n";
  const std::string stages = worker("t", "data/in.txt", "out/t", res) +
                             worker("m", "data/in.txt", "out/m", res) +
                             worker("n", "data/in.txt", "out/n", res);
  fake_->script = {{"t", {"timed_out", "timed_out"}}, {"m", {"out_of_memory"}}, {"n", {"node_failure"}}};
  EXPECT_EQ(run(stages, "retries = 2\nretry_time_factor = 3\n"), 0) << output();
  const auto t = fake_->of("t");
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0].resources.time_limit_s, 10);
  EXPECT_EQ(t[1].resources.time_limit_s, 30);
  EXPECT_EQ(t[2].resources.time_limit_s, 90);
  EXPECT_EQ(t[2].attempt, 3);
  const auto m = fake_->of("m");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[1].resources.mem_bytes, 2 * m[0].resources.mem_bytes);  // default factor 2
  EXPECT_EQ(m[1].resources.time_limit_s, 10);
  const auto n = fake_->of("n");
  ASSERT_EQ(n.size(), 2u);
  EXPECT_THAT(n[1].exclude_nodes, ElementsAre("node1"));
  EXPECT_EQ(state("t"), "succeeded");
  EXPECT_EQ(run_->state.at("t").attempts.size(), 3u);
  EXPECT_EQ(*run_->state.at("t").attempts[0].outcome, sdk::Outcome::kTimedOut);
  EXPECT_THAT(output(), HasSubstr("retry 1 of 2 with time 30 s"));
}

TEST_F(OrchestratorTest, RetriesRunOutAndTheLastCauseStays) {
  fake_->script["a"] = {"failed", "failed"};
  EXPECT_EQ(run(worker("a", "data/in.txt", "out/a", "retries = 1\n")), 1);
  EXPECT_EQ(fake_->of("a").size(), 2u);
  EXPECT_EQ(state("a"), "failed");
}

TEST_F(OrchestratorTest, PreemptionDoesNotUseARetry) {
  fake_->script["a"] = {"preempted", "preempted"};
  EXPECT_EQ(run(worker("a", "data/in.txt", "out/a")), 0) << output();  // retries = 0
  EXPECT_EQ(fake_->of("a").size(), 3u);
  EXPECT_EQ(state("a"), "succeeded");
  EXPECT_THAT(output(), HasSubstr("does not use a retry"));
}

TEST_F(OrchestratorTest, AUserCancelIsNeverRetried) {
  fake_->script["a"] = {"hang"};
  std::thread canceller([this] {
    // The attempt's directory appears when it is submitted; ask as `cadenza cancel a` does.
    const std::string request = dir_.str() + "/.cadenza/runs/latest/a/cancel-requested";
    for (int i = 0; i < 500 && !dir_.exists(".cadenza/runs/latest/a/spec.json"); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::ofstream(request) << "";
  });
  const int code = run(worker("a", "data/in.txt", "out/a", "retries = 3\n") + worker("b", "out/a", "out/b"));
  canceller.join();
  EXPECT_EQ(code, 1);
  EXPECT_EQ(fake_->of("a").size(), 1u);
  EXPECT_EQ(state("a"), "cancelled");
  EXPECT_EQ(state("b"), "not_run");
}

TEST_F(OrchestratorTest, ARetriedStageResubmitsTheDependentsHeldOnIt) {
  fake_->script["a"] = {"timed_out"};
  EXPECT_EQ(run(kChain, "retries = 1\n"), 0) << output();
  const auto a = fake_->of("a"), b = fake_->of("b");
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);  // held on attempt 1, cancelled, then submitted again
  EXPECT_EQ(b[0].after, std::vector<sdk::JobHandle>{"fake-1"});
  EXPECT_THAT(b[1].after, Not(::testing::Contains("fake-1")));  // never on the failed attempt
  EXPECT_EQ(state("c"), "succeeded");
  EXPECT_EQ(dir_.read("out/c"), "hello\n");
}

TEST_F(OrchestratorTest, ABackendThatThrowsFailsItsJobsNotTheEngine) {
  fake_->throw_on_submit = true;
  EXPECT_EQ(run(kChain), 1);
  EXPECT_EQ(state("a"), "failed");
  EXPECT_THAT(run_->state.at("a").error, HasSubstr("the fake scheduler is down"));

  auto second = std::make_shared<test::FakeBackend>();
  second->throw_on_wait = true;
  fake_ = second;
  EXPECT_EQ(run(kChain), 1);
  EXPECT_THAT(run_->state.at("a").error, HasSubstr("lost contact with the fake scheduler"));
}

}  // namespace
}  // namespace cadenza
