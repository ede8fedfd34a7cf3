// The run record: what other processes read back, torn tails included.
#include <gmock/gmock.h>

#include <fstream>

#include "outcome_resolver.h"
#include "promotion_guard.h"
#include "retry_policy.h"
#include "run_record.h"
#include "test_util.h"

namespace cadenza {
namespace {

using sdk::Outcome;

RunInfo info(const std::string& id) {
  RunInfo i;
  i.run_id = id;
  i.workflow = "/w/workflow.toml";
  i.driver = ProcessIdentity::self();
  i.stages = {"a", "b"};
  return i;
}

TEST(RunRecord, AttemptsAndOutcomesReadBack) {
  test::TempDir dir;
  {
    RunRecorder r(dir.str() + "/r1", info("r1"));
    r.submitted("a", 1, "backend_x", "h1", "/d/a");
    r.running("a", 1, "node2");
    r.finished("a", 1, Outcome::kTimedOut, "stopped at its time limit", "", "retry 1 of 1");
    r.submitted("a", 2, "backend_x", "h2", "/d/a/attempt-2");
    r.finished("a", 2, Outcome::kSucceeded);
    r.finished("b", 0, Outcome::kNotRun, "upstream");
  }
  auto run = read_run(dir.str(), "r1");
  ASSERT_TRUE(run);
  const StageStatus& a = run->state.at("a");
  EXPECT_EQ(a.state, "succeeded");
  ASSERT_EQ(a.attempts.size(), 2u);
  EXPECT_EQ(a.attempts[0].node, "node2");
  EXPECT_EQ(*a.attempts[0].outcome, Outcome::kTimedOut);
  EXPECT_EQ(a.attempts[0].retry, "retry 1 of 1");
  EXPECT_EQ(a.attempts[1].handle, "h2");
  EXPECT_EQ(run->state.at("b").state, "not_run");
  EXPECT_TRUE(run->state.at("b").attempts.empty());  // never had a job
  EXPECT_EQ(run->driver, DriverState::kAlive);       // this process
  EXPECT_FALSE(run->finished);
}

TEST(RunRecord, ATornLastLineIsSkippedAndTheNextWriterStartsAfreshLine) {
  test::TempDir dir;
  {
    RunRecorder r(dir.str() + "/r", info("r"));
    r.submitted("a", 1, "backend_x", "h1", "/d/a");
  }
  std::ofstream(dir.str() + "/r/events.jsonl", std::ios::app) << R"({"t": 1, "event": "runn)";
  auto torn = read_run(dir.str(), "r");
  ASSERT_TRUE(torn);
  EXPECT_EQ(torn->state.at("a").state, "submitted");
  RunRecorder::append_to(dir.str() + "/r", R"({"t": 2, "event": "run_finished", "exit_code": 0})");
  auto after = read_run(dir.str(), "r");
  EXPECT_TRUE(after->finished);  // not glued onto the torn line
  EXPECT_EQ(after->driver, DriverState::kFinished);
}

TEST(RunRecord, ADeadDriverIsToldApartFromAReusedPid) {
  test::TempDir dir;
  RunInfo i = info("r");
  i.driver.start_ticks += 1;  // same pid, another start: a different process
  { RunRecorder r(dir.str() + "/r", i); }
  EXPECT_EQ(read_run(dir.str(), "r")->driver, DriverState::kDead);
}

TEST(OutcomeResolver, TheBackendsCauseBeatsTheJobsGuess) {
  sdk::JobUpdate u;
  u.outcome = Outcome::kTimedOut;
  u.message = "exceeded its time limit of 1 s";
  JobResult job;
  job.outcome = Outcome::kPreempted;  // a SIGTERM it could not explain
  EXPECT_EQ(resolve_outcome(u, job, false).outcome, Outcome::kTimedOut);
  EXPECT_EQ(resolve_outcome(u, job, true).outcome, Outcome::kCancelled);  // the user asked
  job.outcome = Outcome::kSucceeded;  // outs promoted before the limit hit
  EXPECT_EQ(resolve_outcome(u, job, false).outcome, Outcome::kSucceeded);
  u.outcome = Outcome::kFailed;
  u.message.clear();
  u.exit_code = 1;
  job.outcome = Outcome::kFailed;
  job.error = "the plugin said why";
  EXPECT_EQ(resolve_outcome(u, job, false).message, "the plugin said why");
  EXPECT_THAT(resolve_outcome(u, std::nullopt, false).message, ::testing::HasSubstr("exited with code 1"));
}

TEST(RetryPolicy, EscalatesByCause) {
  RetryDecl policy{2, 2.0, 1.5};
  sdk::Resources r{1, 0, 1000, 100};
  auto t = decide_retry(Outcome::kTimedOut, "", r, policy, {});
  EXPECT_TRUE(t.retry && t.uses_a_retry);
  EXPECT_EQ(t.resources.time_limit_s, 150);
  EXPECT_EQ(t.resources.mem_bytes, 1000u);
  EXPECT_EQ(decide_retry(Outcome::kOutOfMemory, "", r, policy, {}).resources.mem_bytes, 2000u);
  EXPECT_EQ(decide_retry(Outcome::kNodeFailure, "n3", r, policy, {}).exclude_node, "n3");
  EXPECT_FALSE(decide_retry(Outcome::kFailed, "", r, policy, {2, 0}).retry);  // used up
  auto p = decide_retry(Outcome::kPreempted, "", r, RetryDecl{0, 2, 2}, {});
  EXPECT_TRUE(p.retry);
  EXPECT_FALSE(p.uses_a_retry);
  EXPECT_FALSE(decide_retry(Outcome::kPreempted, "", r, policy, {0, kMaxPreemptions}).retry);
  EXPECT_FALSE(decide_retry(Outcome::kCancelled, "", r, policy, {}).retry);
  EXPECT_FALSE(decide_retry(Outcome::kNotRun, "", r, policy, {}).retry);
}

// An orphaned job may promote only if every run that took its run over waits for it.
TEST(PromotionGuard, AnOrphanPromotesOnlyWhileEveryLaterRunWaitsForIt) {
  test::TempDir dir;
  const std::string runs = dir.str();
  {
    RunRecorder r1(runs + "/r1", info("r1"));
    r1.submitted("a", 1, "backend_x", "h1", runs + "/r1/a");
    r1.submitted("b", 1, "backend_x", "h2", runs + "/r1/b");
  }
  PromotionGuard guard(runs);
  EXPECT_EQ(guard.refusal("r1", "a", 1), "");  // not superseded: its own run still owns it
  {
    RunRecorder r2(runs + "/r2", info("r2"));
    r2.waiting_for("a", "h1", "r1");  // r2 knew a's job, not b's
  }
  RunRecorder::append_to(runs + "/r1", R"({"t":1,"event":"superseded","by_run":"r2"})");
  EXPECT_EQ(guard.refusal("r1", "a", 1), "");
  EXPECT_THAT(guard.refusal("r1", "b", 1), ::testing::HasSubstr("taken over by run r2"));
  EXPECT_THAT(guard.refusal("r1", "c", 1), ::testing::HasSubstr("did not wait for this job"));
  // r2 dies too and r3 knows nothing of r1's job: a may no longer promote.
  { RunRecorder r3(runs + "/r3", info("r3")); }
  RunRecorder::append_to(runs + "/r2", R"({"t":2,"event":"superseded","by_run":"r3"})");
  EXPECT_THAT(guard.refusal("r1", "a", 1), ::testing::HasSubstr("run r2 was taken over by run r3"));
}

TEST(PromotionGuard, FindsTheRunsDirectoryOfAnAttempt) {
  EXPECT_EQ(runs_dir_of("/w/.cadenza/runs/r7/train", "r7"), "/w/.cadenza/runs");
  EXPECT_EQ(runs_dir_of("/w/.cadenza/runs/r7/train/attempt-2", "r7"), "/w/.cadenza/runs");
  EXPECT_EQ(runs_dir_of("/tmp/somewhere/else", "r7"), "");
}

}  // namespace
}  // namespace cadenza
