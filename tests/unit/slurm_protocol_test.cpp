// backend_slurm's protocol: the sbatch argv, quoting, and reading squeue and
// scontrol, without a cluster (the cluster tests are in e2e/slurm_e2e_test).
#include <gmock/gmock.h>

#include "slurm_protocol.h"

namespace cadenza::backend_slurm {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Not;

sdk::JobRequest request() {
  sdk::JobRequest r;
  r.name = "train";
  r.argv = {"/opt/cadenza", "exec-stage", "/w/spec.json"};
  r.workdir = "/w ork";
  r.log_path = "/w ork/.cadenza/runs/r1/train/log.txt";
  r.run_dir = "/w ork/.cadenza/runs/r1/train";
  r.run_id = "r1";
  r.resources = {4, 1, 3ull << 30, 90};
  return r;
}

TEST(SlurmProtocol, ResourcesAndTablesBecomeSbatchOptions) {
  SlurmConfig c = parse_config(R"({"partition": "gpu", "account": "lab", "qos": "long",
                                   "constraint": "a100", "exclude": ["n9"], "extra_args": ["--nice=10"]})");
  auto r = request();
  r.after = {"11", "12"};
  r.exclude_nodes = {"n3"};
  const auto a = sbatch_args(r, c, "/s.sbatch");
  EXPECT_THAT(a, Contains("--cpus-per-task=4"));
  EXPECT_THAT(a, Contains("--mem=3072M"));
  EXPECT_THAT(a, Contains("--time=2"));  // 90 s: whole minutes, rounded up
  EXPECT_THAT(a, Contains("--gres=gpu:1"));
  EXPECT_THAT(a, Contains("--partition=gpu"));
  EXPECT_THAT(a, Contains("--account=lab"));
  EXPECT_THAT(a, Contains("--qos=long"));
  EXPECT_THAT(a, Contains("--constraint=a100"));
  EXPECT_THAT(a, Contains("--exclude=n9,n3"));
  EXPECT_THAT(a, Contains("--dependency=afterok:11:12"));
  EXPECT_THAT(a, Contains("--kill-on-invalid-dep=yes"));
  EXPECT_THAT(a, Contains("--no-requeue"));
  EXPECT_THAT(a, Contains("--comment=cadenza:r1"));
  EXPECT_THAT(a, Contains("--chdir=/w ork"));  // one argv word, spaces and all
  EXPECT_THAT(a, Contains("--output=/w ork/.cadenza/runs/r1/train/log.txt"));
  EXPECT_EQ(a[a.size() - 2], "--nice=10");
  EXPECT_EQ(a.back(), "/s.sbatch");
  EXPECT_THAT(sbatch_args(r, parse_config(R"({"gpu_option": "gpus"})"), "/s"), Contains("--gpus=1"));
}

TEST(SlurmProtocol, OnlyTheDocumentedEnvironmentIsExported) {
  const auto a = sbatch_args(request(), parse_config(R"({"export": ["WANDB_MODE"]})"), "/s");
  EXPECT_THAT(a, Contains("--export=PATH,HOME,USER,LOGNAME,LANG,LC_ALL,TZ,TMPDIR,CADENZA_PLUGIN_PATH,WANDB_MODE"));
  EXPECT_THROW(parse_config(R"({"export": ["A=1"]})"), sdk::PluginError);
}

TEST(SlurmProtocol, TheBatchScriptQuotesEveryWord) {
  const std::string hostile = "a'b $(touch x) `id`; \"q\"\nnext";
  EXPECT_EQ(shell_quote(hostile), "'a'\\''b $(touch x) `id`; \"q\"\nnext'");
  EXPECT_EQ(batch_script({"/bin/x", "it's"}).substr(batch_script({"/bin/x", "it's"}).rfind("exec")),
            "exec '/bin/x' 'it'\\''s'\n");
}

// A sweep's variants of one stage, each held on its own upstream variant
// (task k of an earlier array), are one array with aftercorr; tasks held on
// unrelated jobs are not an array.
TEST(SlurmProtocol, AnArraysDependencyIsSharedOrTaskByTask) {
  std::vector<sdk::JobRequest> chunk(3, request());
  EXPECT_EQ(array_dependency(chunk), "");
  for (auto& r : chunk) r.after = {"7"};
  EXPECT_EQ(array_dependency(chunk), "afterok:7");
  for (size_t k = 0; k < chunk.size(); ++k) chunk[k].after = {"41_" + std::to_string(k), "40_" + std::to_string(k)};
  EXPECT_EQ(array_dependency(chunk), "aftercorr:41:40");
  const auto args = sbatch_args(chunk[0], parse_config("{}"), "/s", array_dependency(chunk));
  EXPECT_THAT(args, Contains("--dependency=aftercorr:41:40"));
  chunk[2].after = {"41_1", "40_2"};  // task 2 on task 1: not position by position
  EXPECT_EQ(array_dependency(chunk), std::nullopt);
  chunk[2].after = {"9", "10"};
  EXPECT_EQ(array_dependency(chunk), std::nullopt);
  chunk[2].after = {"41_2"};
  EXPECT_EQ(array_dependency(chunk), std::nullopt);
  EXPECT_TRUE(alike_for_array(chunk)) << "after is judged per chunk, the rest must be alike";
  chunk[1].resources.cpus = 2;
  EXPECT_FALSE(alike_for_array(chunk));
}

TEST(SlurmProtocol, BadConfigNamesTheKey) {
  try {
    parse_config(R"({"partitoin": "x"})");
    ADD_FAILURE();
  } catch (const sdk::PluginError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("unknown key 'partitoin'"));
  }
  EXPECT_THROW(parse_config(R"({"gpu_option": "cuda"})"), sdk::PluginError);
  EXPECT_THROW(parse_config(R"({"exclude": "n1"})"), sdk::PluginError);
}

TEST(SlurmProtocol, ParsesSbatchSqueueAndScontrol) {
  EXPECT_EQ(*parse_job_id("1234\n"), "1234");
  EXPECT_EQ(*parse_job_id("1234;cluster\n"), "1234");
  EXPECT_FALSE(parse_job_id("sbatch: error: nope"));
  const auto q = parse_squeue("7|RUNNING|node2|None|2026-12-01T10:00:00\n8|CANCELLED|(null)|DependencyNeverSatisfied|2026-12-01T10:00:01\n");
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q.at("7").nodes, "node2");
  EXPECT_TRUE(q.at("7").started);
  EXPECT_FALSE(q.at("8").started);
  EXPECT_EQ(q.at("8").nodes, "");
  const auto f = parse_scontrol("JobId=9 JobName=a JobState=NODE_FAIL Reason=NodeDown NodeList=node1");
  EXPECT_EQ(f.at("JobState"), "NODE_FAIL");
  EXPECT_EQ(f.at("Reason"), "NodeDown");
}

// A workspace under "a dir/": scontrol prints the paths with their spaces,
// which the parser split at (the log path ended at "/home/u/a").
TEST(SlurmProtocol, ScontrolValuesKeepTheirSpaces) {
  const auto f = parse_scontrol(
      "JobId=12 JobName=cadenza-train\n"
      "   JobState=RUNNING Reason=None Dependency=(null)\n"
      "   Command=/home/u/a dir/.cadenza/runs/r1/train/job.sh\n"
      "   WorkDir=/home/u/a dir\n"
      "   StdErr=/home/u/a dir/.cadenza/runs/r1/train/log.txt\n"
      "   StdOut=/home/u/a  two  spaces/log.txt\n"
      "   TRES=cpu=1,mem=1G,node=1 Comment=x=y z\n");
  EXPECT_EQ(f.at("WorkDir"), "/home/u/a dir");
  EXPECT_EQ(f.at("StdErr"), "/home/u/a dir/.cadenza/runs/r1/train/log.txt");
  EXPECT_EQ(f.at("StdOut"), "/home/u/a  two  spaces/log.txt");
  EXPECT_EQ(f.at("JobState"), "RUNNING");
  EXPECT_EQ(f.at("Dependency"), "(null)");
  EXPECT_EQ(f.at("TRES"), "cpu=1,mem=1G,node=1");
  EXPECT_EQ(f.at("Comment"), "x=y z");
}

TEST(SlurmProtocol, StatesMapToTheEnginesCauses) {
  using sdk::Outcome;
  EXPECT_EQ(view_of("PENDING", "Dependency", false).state, sdk::JobState::kQueued);
  EXPECT_EQ(view_of("COMPLETING", "", true).state, sdk::JobState::kRunning);
  EXPECT_EQ(view_of("COMPLETED", "", true).outcome, Outcome::kSucceeded);
  EXPECT_EQ(view_of("TIMEOUT", "TimeLimit", true).outcome, Outcome::kTimedOut);
  EXPECT_EQ(view_of("OUT_OF_MEMORY", "", true).outcome, Outcome::kOutOfMemory);
  EXPECT_EQ(view_of("NODE_FAIL", "NodeDown", true).outcome, Outcome::kNodeFailure);
  EXPECT_EQ(view_of("PREEMPTED", "", true).outcome, Outcome::kPreempted);
  EXPECT_EQ(view_of("CANCELLED", "", true).outcome, Outcome::kCancelled);
  EXPECT_EQ(view_of("CANCELLED", "DependencyNeverSatisfied", false).outcome, Outcome::kNotRun);
  EXPECT_EQ(view_of("FAILED", "NonZeroExitCode", true).outcome, Outcome::kFailed);
  EXPECT_EQ(view_of("TIMEOUT", "TimeLimit", true).message, "TIMEOUT (TimeLimit)");
}

}  // namespace
}  // namespace cadenza::backend_slurm
