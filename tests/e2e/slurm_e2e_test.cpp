// End-to-end on a real SLURM cluster (scripts/slurm-test-cluster.sh: munge,
// slurmctld, 3 slurmd as emulated nodes). The test command starts it and
// exports SLURM_CONF; without it these tests are skipped loudly, and in CI
// (CI=true) they fail.
#include <gmock/gmock.h>
#include <signal.h>

#include <fstream>
#include <functional>
#include <set>
#include <thread>

#include "plugin_library.h"
#include "subprocess.h"
#include "script_project.h"
#include "workspace.h"

namespace cadenza {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

#define REQUIRE_SLURM()                                                                      \
  do {                                                                                       \
    const char* conf = std::getenv("SLURM_CONF");                                            \
    if (!conf || !std::filesystem::exists(conf)) {                                           \
      if (std::getenv("CI")) FAIL() << "CI needs the SLURM test cluster (SLURM_CONF unset)"; \
      GTEST_SKIP() << "*** SLURM test cluster not running: start it with "                   \
                      "scripts/slurm-test-cluster.sh start (scripts/test.sh does) ***";      \
    }                                                                                        \
  } while (0)

const std::string kSlurm = "backend = \"slurm\"\n";

ProcessResult slurm(const std::vector<std::string>& argv) {
  std::vector<std::string> full = argv;
  full[0] = "/usr/bin/" + full[0];
  return run_process(full);
}

// Every event of the latest run, parsed.
std::vector<nlohmann::json> events(Workspace& ws) {
  std::vector<nlohmann::json> out;
  if (!ws.exists(".cadenza/runs/latest/events.jsonl")) return out;  // not started yet
  std::istringstream in(ws.read(".cadenza/runs/latest/events.jsonl"));
  for (std::string line; std::getline(in, line);)
    try {
      out.push_back(nlohmann::json::parse(line));
    } catch (const std::exception&) {
    }
  return out;
}

std::string handle_of(Workspace& ws, const std::string& stage) {
  std::string h;
  for (const auto& e : events(ws))
    if (e["event"] == "submitted" && e["stage"] == stage) h = e["handle"];
  return h;
}

std::map<std::string, std::string> job_fields(const std::string& id) {
  std::map<std::string, std::string> f;
  std::istringstream in(slurm({"scontrol", "show", "job", "-o", id}).out);
  for (std::string w; in >> w;)
    if (auto eq = w.find('='); eq != std::string::npos) f[w.substr(0, eq)] = w.substr(eq + 1);
  return f;
}

// Jobs of this run still pending or running.
std::vector<std::string> live_jobs(const std::string& run_id) {
  std::vector<std::string> ids;
  std::istringstream in(slurm({"squeue", "-h", "--states=PENDING,RUNNING,CONFIGURING,COMPLETING", "-o", "%i|%k"}).out);
  for (std::string line; std::getline(in, line);)
    if (line.find("cadenza:" + run_id) != std::string::npos) ids.push_back(line.substr(0, line.find('|')));
  return ids;
}

// a -> b -> c on SLURM; `a_params` go to the first stage.
std::string chain(const std::string& a_params) {
  return worker("a", "data/in.txt", "out/a", a_params) + worker("b", "out/a", "out/b") +
         worker("c", "out/b", "out/c");
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string run_id(Workspace& ws) { return nlohmann::json::parse(ws.read(".cadenza/runs/latest/run.json"))["run_id"]; }

TEST(SlurmE2E, ADiamondRunsOnSeveralNodesWithItsResourcesAndLiteralParams) {
  REQUIRE_SLURM();
  Workspace ws(worker("a", "data/in.txt", "out/a") +
                   "resources = { cpus = 2, mem = \"300M\", time = \"5m\", gpus = 1 }\n" +
                   worker("b", "out/a", "out/b", "sleep_ms = 2000") +
                   worker("c", "out/a", "out/c",
                          "sleep_ms = 2000, suffix = \"$(touch pwned) `touch pwned2`; ' \\\" x\"") +
                   "[stages.d]\nplugin = \"test_worker\"\ndeps = { b = \"out/b\", c = \"out/c\" }\n"
                   "outs = { out = \"out/d\" }\n",
               kSlurm);
  auto r = ws.cadenza({"run"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("4 ran"));
  std::set<std::string> nodes;
  for (const auto& e : events(ws))
    if (e["event"] == "running") nodes.insert(e.value("node", ""));
  EXPECT_GE(nodes.size(), 2u) << "b and c ran side by side: LLN spreads them";
  auto a = job_fields(handle_of(ws, "a"));
  EXPECT_EQ(a["NumCPUs"], "2");
  EXPECT_THAT(a["TRES"], HasSubstr("mem=300M"));
  EXPECT_EQ(a["TimeLimit"], "00:05:00");
  EXPECT_EQ(a["TresPerNode"], "gres:gpu:1");
  EXPECT_EQ(a["Partition"], "debug");
  EXPECT_EQ(a["Comment"], "cadenza:" + run_id(ws));
  EXPECT_EQ(ws.read("out/c"), "hello\n$(touch pwned) `touch pwned2`; ' \" x");
  EXPECT_FALSE(ws.exists("pwned"));
  EXPECT_FALSE(ws.exists("pwned2"));
  EXPECT_THAT(ws.read("out/d"), HasSubstr("hello"));
  EXPECT_THAT(ws.cadenza({"run"}).output, HasSubstr("0 ran, 4 up to date"));
}

TEST(SlurmE2E, AFailingStageCancelsItsHeldDependentsAndTheRunEnds) {
  REQUIRE_SLURM();
  Workspace ws(chain("mode = \"throw\""), kSlurm);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = ws.cadenza({"run"});
  const double took = seconds_since(t0);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("the test worker was asked to fail"));
  EXPECT_THAT(r.output, HasSubstr("1 failed, 2 not run"));
  EXPECT_LT(took, 20.0);
  EXPECT_TRUE(live_jobs(run_id(ws)).empty());
}

TEST(SlurmE2E, CancelAllFromAnotherShellLeavesNoJobOfTheRun) {
  REQUIRE_SLURM();
  Workspace ws(worker("a", "data/in.txt", "out/a", "mode = \"wait_cancel\"") + worker("b", "out/a", "out/b"),
               kSlurm);
  ASSERT_EQ(ws.cadenza({"run", "--detach"}).exit_code, 0);
  const std::string id = run_id(ws);
  // The run is handed to SLURM: the job's own exec.json says it runs.
  ASSERT_TRUE(wait_until([&] { return ws.exists(".cadenza/runs/latest/a/exec.json"); }));
  auto cancel = test::run_cadenza("/tmp", {"cancel", "--all", "--workflow", ws.str() + "/workflow.toml"});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.output;
  ASSERT_TRUE(wait_until([&] { return ws.read(".cadenza/runs/latest/events.jsonl").find("run_finished") != std::string::npos; }));
  EXPECT_TRUE(wait_until([&] { return live_jobs(id).empty(); }, 20));
  // The record, not result.json: a cancel in the job's first milliseconds
  // stops it before exec-stage can write one.
  std::string outcome;
  for (const auto& e : events(ws))
    if (e["event"] == "finished" && e["stage"] == "a") outcome = e["outcome"];
  EXPECT_EQ(outcome, "cancelled");
  EXPECT_EQ(ws.cadenza({"cache", "verify"}).exit_code, 0);
}

// A second run while a handed-off run's jobs are still queued or running
// takes them over (attach by job id) instead of racing them.
TEST(SlurmE2E, ASecondRunWaitsForTheJobsOfAHandedOffRun) {
  REQUIRE_SLURM();
  Workspace ws(worker("a", "data/in.txt", "out/a", "sleep_ms = 3000, trace = \"trace.txt\"") +
                   worker("b", "out/a", "out/b", "trace = \"trace.txt\""),
               kSlurm);
  ASSERT_EQ(ws.cadenza({"run", "--detach"}).exit_code, 0);
  ASSERT_TRUE(wait_until([&] { return ws.exists(".cadenza/runs/latest/a/exec.json"); }));
  ASSERT_THAT(ws.cadenza({"status", "--json"}).output, HasSubstr("\"handed_off\""));
  auto resumed = ws.cadenza({"run"});
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_THAT(resumed.output, HasSubstr("[a] waiting for its job of run"));
  const int executions = lines_of(ws, "trace.txt");
  EXPECT_EQ(executions, 2) << "each stage executed once, by the first run's jobs";
  EXPECT_EQ(ws.read("out/b"), "hello\n");
}

// scontrol update state=down: SLURM reports NODE_FAIL (killing a slurmd
// would not be one); the stage is retried with that node excluded.
TEST(SlurmE2E, ANodeFailureIsRetriedOnAnotherNode) {
  REQUIRE_SLURM();
  Workspace ws(worker("a", "data/in.txt", "out/a", "sleep_ms = 4000, trace = \"trace.txt\"") +
                   "retries = 1\n",
               kSlurm);
  test::CliProcess run(ws.str(), {"run"});
  std::string node;
  ASSERT_TRUE(wait_until([&] {
    for (const auto& e : events(ws))
      if (e["event"] == "running") node = e.value("node", "");
    return !node.empty();
  }));
  struct Resume {  // whatever happens, the node comes back for the other tests
    std::string node;
    ~Resume() { slurm({"scontrol", "update", "nodename=" + node, "state=resume"}); }
  } resume{node};
  ASSERT_TRUE(slurm({"scontrol", "update", "nodename=" + node, "state=down", "reason=cadenza-test"}).ok());
  auto finished = run.wait();
  EXPECT_EQ(finished.exit_code, 0) << finished.output;
  EXPECT_THAT(finished.output, HasSubstr("NODE FAILURE"));
  EXPECT_THAT(finished.output, HasSubstr("avoiding node " + node));
  std::vector<std::string> nodes;
  for (const auto& e : events(ws))
    if (e["event"] == "running") nodes.push_back(e.value("node", ""));
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_NE(nodes[1], node);
  EXPECT_EQ(ws.read("out/a"), "hello\n");
}

// `scontrol requeue` (what a preemption with requeue does): the job is
// killed, pending again, and reruns; Cadenza follows it through the requeue
// and it succeeds without a retry. SLURM holds a requeued job for 121 s;
// StartTime=now releases it early. Not too early: slurmd revokes the old
// run's credential with a one-second clock, and a relaunch within the same
// second is killed as "Job credential revoked" (seen in CI under load).
TEST(SlurmE2E, ARequeuedJobIsFollowedToSuccessWithoutARetry) {
  REQUIRE_SLURM();
  Workspace ws(worker("a", "data/in.txt", "out/a", "sleep_ms = 3000, trace = \"trace.txt\""),
               kSlurm + "retries = 0\n[backends.slurm]\nrequeue = true\n");
  test::CliProcess run(ws.str(), {"run"});
  ASSERT_TRUE(wait_until([&] { return ws.exists("trace.txt"); }));  // the stage runs
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const std::string id = handle_of(ws, "a");
  ASSERT_TRUE(slurm({"scontrol", "requeue", id}).ok());
  ASSERT_TRUE(wait_until([&] { return job_fields(id)["JobState"] == "PENDING"; }, 20));
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  slurm({"scontrol", "update", "jobid=" + id, "StartTime=now"});
  auto finished = run.wait();
  EXPECT_EQ(finished.exit_code, 0) << finished.output;
  const int executions = lines_of(ws, "trace.txt");
  EXPECT_EQ(executions, 2);  // killed once, rerun by SLURM
  int submissions = 0;
  for (const auto& e : events(ws)) submissions += e["event"] == "submitted";
  EXPECT_EQ(submissions, 1) << ws.read(".cadenza/runs/latest/events.jsonl") << finished.output;  // no retry of Cadenza's
  EXPECT_EQ(ws.read("out/a"), "hello\n");
}

// Submit and walk away: the whole DAG and one finishing job go out, and
// nothing of Cadenza keeps running until the finishing job records the end.
TEST(SlurmE2E, ADetachedRunIsHandedToSlurmAndNothingOfCadenzaKeepsRunning) {
  REQUIRE_SLURM();
  Workspace ws(chain("sleep_ms = 1500"), kSlurm);
  const auto t0 = std::chrono::steady_clock::now();
  auto detached = ws.cadenza({"run", "--detach"});
  ASSERT_EQ(detached.exit_code, 0) << detached.output;
  EXPECT_LT(seconds_since(t0), 1.5);
  ASSERT_TRUE(wait_until([&] { return ws.read(".cadenza/runs/latest/driver.log").find("records the end") != std::string::npos; }, 10));
  const int driver = nlohmann::json::parse(ws.read(".cadenza/runs/latest/run.json"))["driver"]["pid"];
  // /proc/<pid>/cwd is gone once the process exited (zombies included).
  EXPECT_TRUE(wait_until([&] { return !std::filesystem::exists("/proc/" + std::to_string(driver) + "/cwd"); }, 10))
      << "the driver exited";
  auto live = nlohmann::json::parse(test::run_cadenza("/tmp", {"status", ws.str() + "/workflow.toml", "--json"}).output);
  EXPECT_EQ(live["driver"], "handed_off");
  ASSERT_TRUE(wait_until([&] { return ws.read(".cadenza/runs/latest/events.jsonl").find("run_finished") != std::string::npos; }, 60));
  EXPECT_THAT(test::run_cadenza("/tmp", {"status", ws.str() + "/workflow.toml"}).output,
              HasSubstr("a  up to date"));  // the lock is up to date: the run is over
  EXPECT_EQ(ws.read("out/c"), "hello\n");
  EXPECT_THAT(ws.cadenza({"run"}).output, HasSubstr("0 ran, 3 up to date"));
}

struct QuietHost : sdk::BackendHost {
  void job_output(const sdk::JobHandle&, std::string_view) override {}
};

// Puts a script named sbatch first on PATH while it lives; `body` may log
// or refuse, then it calls the real sbatch. Counts what SLURM was asked.
struct SbatchWrapper {
  std::string old_path = std::getenv("PATH");
  SbatchWrapper(const test::TempDir& dir, const std::string& body) {
    dir.write("bin/sbatch", "#!/bin/sh\n" + body + "exec /usr/bin/sbatch \"$@\"\n");
    std::filesystem::permissions(dir.str() + "/bin/sbatch", std::filesystem::perms::owner_all);
    ::setenv("PATH", (dir.str() + "/bin:" + old_path).c_str(), 1);
  }
  ~SbatchWrapper() { ::setenv("PATH", old_path.c_str(), 1); }
};

// Runs `cadenza args` in `ws` with sbatch wrapped to log its arguments;
// returns the result and one line per sbatch call.
std::pair<test::CliResult, std::vector<std::string>> run_counting_sbatch(Workspace& ws, const test::TempDir& shared,
                                                                         const std::vector<std::string>& args) {
  const std::string calls = shared.str() + "/sbatch-calls";
  test::CliResult r;
  {
    SbatchWrapper wrapper(shared, "echo \"$*\" >> '" + calls + "'\n");
    r = ws.cadenza(args);
  }
  std::ifstream sbatch_log(calls);
  std::vector<std::string> lines;
  for (std::string line; std::getline(sbatch_log, line);) lines.push_back(line);
  return {r, lines};
}

// `n` like jobs of run `run_id`, each in dir/task<k>, running argv_of(k).
std::vector<sdk::JobRequest> like_requests(const test::TempDir& dir, const std::string& run_id, int n,
                                           const std::function<std::vector<std::string>(int)>& argv_of) {
  std::vector<sdk::JobRequest> requests;
  for (int k = 0; k < n; ++k) {
    sdk::JobRequest r;
    r.name = "sweep";
    r.run_id = run_id;
    r.workdir = dir.str();
    r.run_dir = dir.str() + "/task" + std::to_string(k);
    std::filesystem::create_directories(r.run_dir);
    r.log_path = r.run_dir + "/log.txt";
    r.argv = argv_of(k);
    requests.push_back(r);
  }
  return requests;
}

std::shared_ptr<sdk::Backend> slurm_backend(sdk::BackendHost& host) {
  auto backend = PluginLibrary::load(test::plugin_dir() + "/cadenza-backend_slurm.so")->create_backend();
  backend->configure("{}", host);
  return backend;
}

// N > MaxArraySize (5 on the test cluster) like jobs: the fewest sbatch calls.
TEST(SlurmE2E, AnArrayLargerThanMaxArraySizeTakesTheFewestSbatchCalls) {
  REQUIRE_SLURM();
  test::TempDir dir;
  const std::string calls = dir.str() + "/sbatch-calls";
  QuietHost host;
  auto backend = slurm_backend(host);
  const auto requests = like_requests(dir, "arraytest", 7, [](int k) {
    return std::vector<std::string>{"/bin/sh", "-c", "echo variant " + std::to_string(k) + " on $SLURMD_NODENAME"};
  });
  std::vector<sdk::JobHandle> handles;
  {
    SbatchWrapper wrapper(dir, "echo \"$*\" >> '" + calls + "'\n");
    handles = backend->submit_array(requests);
  }
  ASSERT_EQ(handles.size(), 7u);
  std::map<sdk::JobHandle, sdk::JobUpdate> done;
  wait_until([&] {
    for (auto& u : backend->wait(200))
      if (u.state == sdk::JobState::kFinished) done[u.handle] = u;
    return done.size() == 7;
  });
  ASSERT_EQ(done.size(), 7u);
  for (const auto& [h, u] : done) EXPECT_EQ(u.outcome, sdk::Outcome::kSucceeded) << h << ": " << u.message;
  std::ifstream in(calls);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 2u) << "7 tasks with MaxArraySize 5: two arrays";
  EXPECT_THAT(lines[0], HasSubstr("--array=0-4"));
  EXPECT_THAT(lines[1], HasSubstr("--array=0-1"));
  for (int k = 0; k < 7; ++k)
    EXPECT_THAT(dir.read("task" + std::to_string(k) + "/log.txt"), HasSubstr("variant " + std::to_string(k) + " on node"));
}

// A later chunk that sbatch refuses takes the chunks already queued with it:
// the caller gets no handle for them, so they must not run unwatched.
TEST(SlurmE2E, AnArrayWhoseSecondChunkIsRefusedLeavesNoJobQueued) {
  REQUIRE_SLURM();
  test::TempDir dir;
  const std::string count = dir.str() + "/count";
  QuietHost host;
  auto backend = slurm_backend(host);
  const auto requests = like_requests(dir, "chunkfail", 7, [](int) { return std::vector<std::string>{"/bin/sleep", "30"}; });
  {
    SbatchWrapper wrapper(dir, "echo x >> '" + count + "'\n[ \"$(wc -l < '" + count +
                                   "')\" -ge 2 ] && { echo 'refused for the test' >&2; exit 1; }\n");
    EXPECT_THROW(backend->submit_array(requests), sdk::PluginError);
  }
  EXPECT_TRUE(wait_until([] { return live_jobs("chunkfail").empty(); }, 20)) << "the first chunk was cancelled";
}

// A 2x2 sweep on the cluster is one scheduling problem: each stage's four
// variants go out as one job array (3 sbatch calls for 3 stages, counted by
// a PATH wrapper around the real sbatch), each train held on its own prep
// task and each report on its own train task (aftercorr), the shared prep
// executed once (the other tasks wait for its claim and restore it), and the
// trainings spread over the nodes.
TEST(SlurmE2E, ASweepIsOneJobArrayPerStageAndRunsSharedWorkOnce) {
  REQUIRE_SLURM();
  test::TempDir shared;
  const std::string t = "trace = \"" + shared.str() + "/trace.txt\"";
  Workspace ws(worker("prep", "data/in.txt", "out/prep", t + ", sleep_ms = 1500") +
                   worker("train", "out/prep", "out/model", t + ", sleep_ms = 1000") +
                   worker("report", "out/model", "out/report", t),
               kSlurm);
  const auto [r, lines] =
      run_counting_sbatch(ws, shared, {"exp", "run", "--grid", "train.suffix=a,bb", "--grid", "train.gain=1,2"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("planned together"));
  std::ifstream in(shared.str() + "/trace.txt");
  std::map<std::string, int> executions;
  for (std::string line; std::getline(in, line);) ++executions[line];
  EXPECT_EQ(executions["prep"], 1) << r.output;
  EXPECT_EQ(executions["train"], 4);
  EXPECT_EQ(executions["report"], 2);  // the gain does not change the model: two distinct reports
  ASSERT_EQ(lines.size(), 3u) << r.output;
  for (const auto& line : lines) EXPECT_THAT(line, HasSubstr("--array=0-3"));
  EXPECT_THAT(lines[1], HasSubstr("--dependency=aftercorr:"));
  EXPECT_THAT(lines[2], HasSubstr("--dependency=aftercorr:"));
  std::set<std::string> nodes, arrays;
  for (const auto& name : {"suffix-a+gain-1", "suffix-a+gain-2", "suffix-bb+gain-1", "suffix-bb+gain-2"}) {
    const auto record = nlohmann::json::parse(ws.read(std::string(".cadenza/exps/") + name + "/experiment.json"));
    EXPECT_EQ(record["status"], "succeeded");
    EXPECT_EQ(record["stages"]["train"]["backend"], "backend_slurm");
    const std::string job = record["stages"]["train"]["job"];
    const auto fields = job_fields(job);
    nodes.insert(fields.count("NodeList") ? fields.at("NodeList") : "");
    arrays.insert(job.substr(0, job.find('_')));
  }
  EXPECT_EQ(arrays.size(), 1u) << "the four trainings are one array";
  EXPECT_GE(nodes.size(), 2u);
  // Work cached meanwhile (the prep another experiment's task computed) is
  // skipped on the node by exec-stage, inside the pre-submitted chain.
  int restored_on_node = 0;
  for (const auto& name : {"suffix-a+gain-1", "suffix-a+gain-2", "suffix-bb+gain-1", "suffix-bb+gain-2"})
    restored_on_node += nlohmann::json::parse(ws.read(std::string(".cadenza/exps/") + name +
                                                      "/runs/latest/prep/result.json"))
                            .value("restored", false);
  EXPECT_EQ(restored_on_node, 3);
  auto show = ws.cadenza({"exp", "show", "--json"});
  EXPECT_EQ(nlohmann::json::parse(show.output).size(), 4u);
  // Rerunning the sweep submits nothing.
  auto again = ws.cadenza({"exp", "run", "--grid", "train.suffix=a,bb", "--grid", "train.gain=1,2"});
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_THAT(again.output, Not(HasSubstr("started")));
}

// A user's Python scripts swept on the cluster: one params.yaml key and one
// of the script's own params, 2 x 2, each stage's variants one job array;
// each variant's script saw its own values and wrote in its own tree.
TEST(SlurmE2E, AScriptSweepRunsAsArraysAndEachVariantSeesItsValues) {
  REQUIRE_SLURM();
  test::TempDir shared;
  const std::string trace = shared.str() + "/trace.txt";
  Workspace ws("");
  // retries: a node a neighbouring test took down may still be reported down.
  test::write_script_project(ws, trace, kSlurm + "retries = 2\n");
  const auto [r, lines] = run_counting_sbatch(
      ws, shared, {"exp", "run", "--grid", "params.yaml:train.lr=0.1,0.2", "--grid", "train.hidden=8,32"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("planned together"));
  ASSERT_EQ(lines.size(), 2u) << r.output;
  for (const auto& line : lines) EXPECT_THAT(line, HasSubstr("--array=0-3"));
  EXPECT_GE(test::executions(trace, "train"), 4);
  for (const char* lr : {"0.1", "0.2"})
    for (const char* hidden : {"8", "32"}) {
      const std::string tree = std::string(".cadenza/exps/lr-") + lr + "+hidden-" + hidden + "/ws/";
      const auto model = test::trained(ws, tree);
      EXPECT_EQ(model["lr"], std::stod(lr)) << tree;
      EXPECT_EQ(model["hidden"], std::stoi(hidden)) << tree;
      EXPECT_EQ(model["cwd"], std::filesystem::canonical(ws.path() / tree).string());
    }
  EXPECT_FALSE(ws.exists("models")) << "the workspace's own outputs are not touched";
}

// The Python example (examples/python) swept 2 x 2 on the cluster: each
// variant's training is an array task that reports its metrics through
// `import cadenza` from the node, and the stop rule stops the diverging ones
// there; `exp show` has every variant's values.
TEST(SlurmE2E, ThePythonExampleSweptAsArraysReportsItsMetricsAndStopsTheDivergingOnes) {
  REQUIRE_SLURM();
  test::TempDir shared;
  Workspace ws("");
  const std::filesystem::path example = std::filesystem::path(CADENZA_TEST_SOURCE_DIR) / ".." / "examples" / "python";
  std::filesystem::copy(example, ws.path(), std::filesystem::copy_options::recursive |
                                                std::filesystem::copy_options::overwrite_existing);
  std::string workflow = ws.read("workflow.toml");
  workflow.replace(workflow.find("[workflow]\n"), 11, "[workflow]\n" + kSlurm);
  ws.write("workflow.toml", workflow);
  const auto [r, lines] = run_counting_sbatch(
      ws, shared, {"exp", "run", "--grid", "params.yaml:train.lr=0.005,5000", "--grid", "params.yaml:model.hidden=8,16",
                   "--set", "params.yaml:train.epochs=3", "--set", "params.yaml:data.seconds=4"});
  EXPECT_THAT(r.output, HasSubstr("stopped by rule `val/esr > 1.0 && epoch >= 1`")) << r.output;
  EXPECT_THAT(lines, ::testing::Contains(HasSubstr("--array=0-3"))) << r.output;
  auto show = ws.cadenza({"exp", "show", "--json"});
  ASSERT_EQ(show.exit_code, 0) << show.output;
  std::map<std::string, nlohmann::json> rows;
  for (auto& row : nlohmann::json::parse(show.output)) rows[row["name"]] = row;
  for (const std::string hidden : {"8", "16"}) {
    const auto& good = rows["epochs-3+seconds-4+lr-0.005+hidden-" + hidden];
    const auto& bad = rows["epochs-3+seconds-4+lr-5000+hidden-" + hidden];
    EXPECT_EQ(good["status"], "succeeded") << good.dump();
    EXPECT_LT(good["metrics"]["val/esr"]["last"].get<double>(), 0.5) << good.dump();
    EXPECT_EQ(bad["status"], "stopped") << bad.dump();
    EXPECT_GT(bad["metrics"]["val/esr"]["last"].get<double>(), 1.0) << bad.dump();
  }
}

// A stage that asks for a GPU gets one from SLURM (the test cluster's GPUs
// are device files: the variable is set, no CUDA runs); device = "auto" in
// the training stage picks CUDA through it.
TEST(SlurmE2E, AStageWithAGpuGetsItsDeviceFromSlurm) {
  REQUIRE_SLURM();
  Workspace ws("[stages.g]\nplugin = \"stage_shell\"\nouts = { o = \"out/g\" }\n"
               "params = { cmd = \"echo gpu=$CUDA_VISIBLE_DEVICES > {out:o}\" }\n"
               "resources = { gpus = 1 }\n\n"
               "[stages.n]\nplugin = \"stage_shell\"\nouts = { o = \"out/n\" }\n"
               "params = { cmd = \"echo gpu=$(printenv CUDA_VISIBLE_DEVICES || echo unset) > {out:o}\" }\n",
               kSlurm);
  auto r = ws.cadenza({"run"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(ws.read("out/g"), ::testing::MatchesRegex("gpu=[01]\n"));
  EXPECT_NE(ws.read("out/n"), ws.read("out/g"));  // none asked, none given (or an empty list)
}

// A stage in a container on a node: the job is the same exec-stage, which
// runs itself through ch-run in the test image (scripts/test.sh builds it).
TEST(SlurmE2E, AStageRunsInItsContainerOnANode) {
  REQUIRE_SLURM();
  const char* image = std::getenv("CADENZA_TEST_IMAGE");
  if (!image) {
    if (std::getenv("CI")) FAIL() << "CI needs the container test image (CADENZA_TEST_IMAGE unset)";
    GTEST_SKIP() << "*** no container test image (scripts/test.sh builds it) ***";
  }
  Workspace ws("[stages.a]\nplugin = \"stage_shell\"\nouts = { o = \"out/a\" }\n"
               "params = { cmd = \"cat /etc/cadenza-image > {out:o}\" }\n",
               kSlurm + "\n[container]\nimage = \"" + image + "\"\nruntime = \"charliecloud\"\ncadenza = \"host\"\n");
  auto r = ws.cadenza({"run"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(ws.read("out/a"), HasSubstr("cadenza runtime image"));
  EXPECT_THAT(job_fields(handle_of(ws, "a"))["NodeList"], ::testing::MatchesRegex("node[123]"));
  EXPECT_THAT(ws.cadenza({"run"}).output, HasSubstr("0 ran, 1 up to date"));
}

#ifdef CADENZA_TEST_WITH_ML
// The example pipeline (10 s of audio, one epoch per training) on the
// cluster: attached, then a fresh copy detached; its stages land on at least
// two nodes, the detached run's jobs leave the lock up to date, and a second
// run does nothing.
std::string example_on_slurm() {
  std::string example = read_file(std::string(CADENZA_TEST_SOURCE_DIR) + "/../workflow.toml");
  for (auto [from, to] : {std::pair<std::string, std::string>{"duration_s = 30.0", "duration_s = 10.0"},
                          {"epochs = 10,", "epochs = 1,"},
                          {"epochs = 8", "epochs = 1"},
                          {"segment_length = 4410", "segment_length = 2205"},
                          {"batch_size = 16", "batch_size = 4"},
                          {"[workflow]\n", "[workflow]\nbackend = \"slurm\"\n"}}) {
    EXPECT_NE(example.find(from), std::string::npos) << from;
    if (example.find(from) != std::string::npos) example.replace(example.find(from), from.size(), to);
  }
  return example;
}

TEST(SlurmE2E, TheExampleRunsAttachedAndDetachedOnSeveralNodes) {
  REQUIRE_SLURM();
  test::TempDir attached, detached;
  attached.write("workflow.toml", example_on_slurm());
  detached.write("workflow.toml", example_on_slurm());
  auto r = test::run_cadenza(attached.str(), {"run"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("6 ran"));
  std::set<std::string> nodes;
  std::istringstream in(attached.read(".cadenza/runs/latest/events.jsonl"));
  for (std::string line; std::getline(in, line);) {
    const auto e = nlohmann::json::parse(line);
    if (e["event"] == "running") nodes.insert(e.value("node", ""));
  }
  EXPECT_GE(nodes.size(), 2u) << "train and train_nam side by side";
  EXPECT_TRUE(attached.exists("out/export/metrics.json"));

  auto d = test::run_cadenza(detached.str(), {"run", "--detach"});
  ASSERT_EQ(d.exit_code, 0) << d.output;
  ASSERT_TRUE(wait_until([&] { return detached.read(".cadenza/runs/latest/events.jsonl").find("run_finished") != std::string::npos; }, 300));
  const std::string status = test::run_cadenza("/tmp", {"status", detached.str() + "/workflow.toml"}).output;
  for (const char* stage : {"synth", "preprocess", "train ", "train_nam", "export ", "export_nam"})
    EXPECT_THAT(status, ::testing::ContainsRegex(std::string(stage) + " *up to date")) << status;
  EXPECT_THAT(test::run_cadenza(detached.str(), {"run"}).output, HasSubstr("0 ran, 6 up to date"));
}
#endif

// The one time-limit test on the real cluster (SLURM's limits are whole
// minutes, enforced by a periodic check: about 1.5 min): the first attempt
// passes its 1-minute limit, is reported as timed out, and the retry asks
// SLURM for twice the time and succeeds.
TEST(SlurmE2E, ATimeLimitIsRetriedWithMoreTime) {
  REQUIRE_SLURM();
  Workspace ws(worker("a", "data/in.txt", "out/a", "sleep_first_ms = 150000") +
                   "resources = { time = \"1m\" }\nretries = 1\n",
               kSlurm);
  auto r = ws.cadenza({"run"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("TIMED OUT after"));
  EXPECT_THAT(r.output, HasSubstr("retry 1 of 1 with time 120 s"));
  std::vector<std::string> handles;
  for (const auto& e : events(ws)) {
    if (e["event"] == "submitted") handles.push_back(e["handle"]);
    if (e["event"] == "finished" && e["attempt"] == 1) {
      EXPECT_EQ(e["outcome"], "timed_out");
    }
  }
  ASSERT_EQ(handles.size(), 2u);
  EXPECT_EQ(job_fields(handles[0])["TimeLimit"], "00:01:00");
  EXPECT_EQ(job_fields(handles[1])["TimeLimit"], "00:02:00");
  EXPECT_EQ(ws.read("out/a"), "hello\n");
}

}  // namespace
}  // namespace cadenza
