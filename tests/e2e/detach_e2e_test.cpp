// End-to-end: runs that outlive the terminal, with backend_local. A run
// detached, its driver killed with -9, watched and cancelled from other
// directories, resumed by a second run; time limits reported and retried.
#include <gmock/gmock.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "workspace.h"

namespace cadenza {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string slow_chain(const std::string& trace, int train_ms) {
  const std::string t = "trace = \"" + trace + "\"";
  return worker("prep", "data/in.txt", "out/prep", t) +
         worker("train", "out/prep", "out/model", t + ", sleep_ms = " + std::to_string(train_ms)) +
         worker("export", "out/model", "out/exported", t);
}

nlohmann::json live(Workspace& ws, const std::string& from = "") {
  // From another directory, naming the workflow by its path.
  auto r = test::run_cadenza(from.empty() ? "/" : from, {"status", ws.str() + "/workflow.toml", "--json"});
  try {
    return nlohmann::json::parse(r.output);
  } catch (const std::exception&) {
    return {};
  }
}

nlohmann::json stage_of(const nlohmann::json& status, const std::string& stage) {
  if (status.contains("stages"))
    for (const auto& s : status["stages"])
      if (s["stage"] == stage) return s;
  return {};
}

int pid_of_stage(Workspace& ws, const std::string& stage) {
  try {
    return nlohmann::json::parse(ws.read(".cadenza/runs/latest/" + stage + "/exec.json"))["process"]["pid"];
  } catch (const std::exception&) {
    return 0;
  }
}

bool process_exists(int pid) { return pid > 0 && ::kill(pid, 0) == 0; }

TEST(DetachE2E, DetachedRunSurvivesItsDriverAndASecondRunResumesIt) {
  Workspace ws("");
  ws.write("workflow.toml", "[workflow]\nname = \"e2e\"\n" + slow_chain(ws.str() + "/trace.txt", 2500));
  const auto t0 = std::chrono::steady_clock::now();
  auto detached = ws.cadenza({"run", "--detach"});
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(detached.exit_code, 0) << detached.output;
  EXPECT_THAT(detached.output, HasSubstr("goes on in the background"));
  EXPECT_LT(took, 2.0);  // returned before train (2.5 s) could end

  ASSERT_TRUE(wait_until([&] { return stage_of(live(ws), "train")["state"] == "running"; }));
  auto status = live(ws);
  EXPECT_EQ(status["detached"], true);
  EXPECT_EQ(status["driver"], "alive");
  // A second run refuses and names the live one.
  auto second = ws.cadenza({"run"});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_THAT(second.output, HasSubstr("already has a live run, run " + status["run_id"].get<std::string>()));
  EXPECT_THAT(second.output, HasSubstr("cadenza run --attach"));

  // kill -9 the driver; the stage it started runs on.
  const int train_pid = pid_of_stage(ws, "train");
  ASSERT_TRUE(process_exists(train_pid));
  ASSERT_EQ(::kill(status["pid"].get<int>(), SIGKILL), 0);
  ASSERT_TRUE(wait_until([&] { return live(ws)["driver"] == "dead"; }));
  auto orphaned = live(ws, "/tmp");
  EXPECT_EQ(orphaned["running"], false);
  EXPECT_EQ(stage_of(orphaned, "train")["process_alive"], true);
  auto text = test::run_cadenza("/tmp", {"status", ws.str() + "/workflow.toml"});
  EXPECT_THAT(text.output, HasSubstr("died without finishing the run"));
  EXPECT_THAT(text.output, HasSubstr("still running: train"));

  // A second run waits for the orphan instead of racing it, and reuses what finished.
  auto resumed = ws.cadenza({"run"});
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_THAT(resumed.output, HasSubstr("[train] waiting for its job of run"));
  EXPECT_THAT(resumed.output, HasSubstr("[train] restored from cache"));
  EXPECT_THAT(resumed.output, Not(HasSubstr("[train] started")));
  EXPECT_THAT(resumed.output, HasSubstr("1 ran, 1 up to date, 1 restored from cache"));
  EXPECT_EQ(lines_of(ws, "trace.txt"), 3);  // prep, train, export: each executed once
  EXPECT_EQ(ws.read("out/exported"), "hello\n");
  EXPECT_EQ(ws.cadenza({"run"}).output.find("3 up to date") != std::string::npos, true);
}

TEST(DetachE2E, CancelAllFromAnotherShellStopsADetachedRun) {
  Workspace ws(worker("prep", "data/in.txt", "out/prep") +
               worker("train", "out/prep", "out/model", "mode = \"wait_cancel\""));
  ASSERT_EQ(ws.cadenza({"run", "-d"}).exit_code, 0);
  ASSERT_TRUE(wait_until([&] { return stage_of(live(ws), "train")["state"] == "running"; }));
  const int pid = pid_of_stage(ws, "train");
  auto cancel = test::run_cadenza("/tmp", {"cancel", "--all", "--workflow", ws.str() + "/workflow.toml"});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.output;
  ASSERT_TRUE(wait_until([&] { return ws.read(".cadenza/runs/latest/events.jsonl").find("run_finished") != std::string::npos; }));
  EXPECT_FALSE(process_exists(pid));
  // From the run record: a cancel in the job's first milliseconds leaves no result.json.
  EXPECT_THAT(ws.read(".cadenza/runs/latest/events.jsonl"),
              HasSubstr(R"("event":"finished","outcome":"cancelled","stage":"train")"));
  EXPECT_FALSE(ws.exists("out/model"));
  EXPECT_THAT(ws.read(".cadenza/runs/latest/driver.log"), HasSubstr("1 ran, 1 cancelled"));
}

TEST(DetachE2E, CancelReachesTheJobsOfADeadDriver) {
  Workspace ws(worker("train", "data/in.txt", "out/model", "mode = \"wait_cancel\""));
  ASSERT_EQ(ws.cadenza({"run", "--detach"}).exit_code, 0);
  ASSERT_TRUE(wait_until([&] { return stage_of(live(ws), "train")["state"] == "running"; }));
  ::kill(live(ws)["pid"].get<int>(), SIGKILL);
  ASSERT_TRUE(wait_until([&] { return live(ws)["driver"] == "dead"; }));
  const int pid = pid_of_stage(ws, "train");
  auto cancel = ws.cadenza({"cancel", "train"});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.output;
  EXPECT_THAT(cancel.output, HasSubstr("train: cancel sent to backend_local"));
  EXPECT_TRUE(wait_until([&] { return !process_exists(pid); }, 15));
  EXPECT_EQ(ws.result("train")["outcome"], "cancelled");
  // The record says so too: status no longer shows a live run.
  EXPECT_THAT(ws.cadenza({"status"}).output, Not(HasSubstr("running")));
}

TEST(DetachE2E, AttachFollowsALiveRunToItsEnd) {
  Workspace ws(worker("prep", "data/in.txt", "out/prep", "sleep_ms = 800") +
               worker("train", "out/prep", "out/model", "sleep_ms = 300"));
  ASSERT_EQ(ws.cadenza({"run", "--detach"}).exit_code, 0);
  auto attached = ws.cadenza({"run", "--attach"});
  EXPECT_EQ(attached.exit_code, 0) << attached.output;
  EXPECT_THAT(attached.output, HasSubstr("attached to run"));
  EXPECT_THAT(attached.output, HasSubstr("info mode copy"));  // the stage's own output
  EXPECT_THAT(attached.output, HasSubstr("[train] succeeded"));
  EXPECT_THAT(attached.output, HasSubstr("finished with exit code 0"));
  EXPECT_THAT(ws.cadenza({"run", "--attach"}).output, HasSubstr("no live run to attach to"));
}

// Defect: a time limit was reported as "cancelled".
TEST(DetachE2E, ATimeLimitIsReportedAsATimeLimit) {
  Workspace ws(worker("a", "data/in.txt", "out/a") +
               worker("b", "out/a", "out/b", "sleep_ms = 3000") + "resources = { time = \"1s\" }\n");
  auto r = ws.cadenza({"run"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("[b] TIMED OUT after 1."));
  EXPECT_THAT(r.output, HasSubstr("(limit 1 s)"));
  EXPECT_THAT(r.output, Not(HasSubstr("cancelled")));
  EXPECT_THAT(r.output, HasSubstr("1 ran, 1 timed out"));
  EXPECT_EQ(ws.result("b")["outcome"], "timed_out");
}

TEST(DetachE2E, ATimeLimitIsRetriedWithMoreTime) {
  Workspace ws(worker("b", "data/in.txt", "out/b", "sleep_ms = 2000, trace = \"trace.txt\"") +
               "resources = { time = \"1s\" }\nretries = 1\nretry_time_factor = 5\n");
  auto r = ws.cadenza({"run"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("[b] TIMED OUT"));
  EXPECT_THAT(r.output, HasSubstr("retry 1 of 1 with time 5 s"));
  EXPECT_THAT(r.output, HasSubstr(", attempt 2"));
  EXPECT_EQ(ws.result("b")["outcome"], "timed_out");  // attempt 1
  EXPECT_EQ(nlohmann::json::parse(ws.read(".cadenza/runs/latest/b/attempt-2/result.json"))["outcome"], "succeeded");
  EXPECT_EQ(lines_of(ws, "trace.txt"), 2);
  EXPECT_EQ(ws.read("out/b"), "hello\n");
}

// A requeued SLURM job reruns in its first run's directory. If the rerun
// dies without a word (SIGKILL at a hard limit), the first run's result
// must not be taken for the rerun's: exec-stage clears it as it starts.
TEST(DetachE2E, ARerunInTheSameDirectoryDoesNotInheritTheOldResult) {
  Workspace ws(worker("a", "data/in.txt", "out/a", "sleep_ms = 6000, trace = \"trace.txt\""));
  test::CliProcess first(ws.str(), {"run", "--detach"});
  ASSERT_EQ(first.wait().exit_code, 0);
  const std::string dir = ws.str() + "/.cadenza/runs/latest/a";
  ASSERT_TRUE(wait_until([&] { return ws.exists("trace.txt"); }));
  test::run_cadenza(ws.str(), {"cancel", "--all"});  // the first run ends (SLURM's requeue kills it)
  ASSERT_TRUE(wait_until([&] { return ws.read(".cadenza/runs/latest/events.jsonl").find("run_finished") != std::string::npos; }));
  ws.write(".cadenza/runs/latest/a/result.json", R"({"outcome": "preempted"})");  // the first run's
  test::CliProcess rerun(ws.str(), {"exec-stage", dir + "/spec.json"});
  ASSERT_TRUE(wait_until([&] { return lines_of(ws, "trace.txt") == 2; }));  // the rerun works
  EXPECT_FALSE(ws.exists(".cadenza/runs/latest/a/result.json"));
  rerun.signal(SIGKILL);
  rerun.wait();
  EXPECT_FALSE(ws.exists(".cadenza/runs/latest/a/result.json"));
}

// `cadenza run` on a terminal: the first Ctrl-C asks whether to cancel or
// detach. Detaching hands the live jobs to a background driver: nothing is
// cancelled or run twice, and the run finishes without the terminal.
TEST(DetachE2E, CtrlCOnATerminalCanDetachTheRun) {
  Workspace ws(slow_chain("trace.txt", 2500));
  int master = -1;
  const pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::chdir(ws.str().c_str()) != 0) ::_exit(127);
    ::setenv("CADENZA_PLUGIN_PATH", test::test_plugin_dir().c_str(), 1);
    const std::string exe = test::cadenza_binary();
    ::execl(exe.c_str(), exe.c_str(), "run", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::string seen;
  auto read_until = [&](const std::string& text, double limit_s) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(limit_s);
    while (seen.find(text) == std::string::npos && std::chrono::steady_clock::now() < end) {
      pollfd p{master, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::read(master, buf, sizeof buf);
      if (n <= 0) break;
      seen.append(buf, static_cast<size_t>(n));
    }
    return seen.find(text) != std::string::npos;
  };
  ASSERT_TRUE(read_until("[train] started", 30)) << seen;
  ASSERT_EQ(::write(master, "\x03", 1), 1);  // Ctrl-C, through the terminal's line discipline
  ASSERT_TRUE(read_until("[d]etach", 10)) << seen;
  ASSERT_EQ(::write(master, "d\n", 2), 2);
  ASSERT_TRUE(read_until("goes on in the background", 20)) << seen;
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(master);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << seen;
  ASSERT_TRUE(wait_until([&] { return ws.exists("out/exported"); }, 60)) << seen;
  EXPECT_TRUE(wait_until([&] { return ws.read(".cadenza/runs/latest/events.jsonl").find("run_finished") != std::string::npos; }));
  EXPECT_EQ(ws.read("trace.txt"), "prep\ntrain\nexport\n");  // train was adopted, not run again
  EXPECT_THAT(ws.read(".cadenza/runs/latest/events.jsonl"), HasSubstr("waiting_for"));
  std::set<std::string> runs;  // the detached driver's run is a run of its own
  for (const auto& e : std::filesystem::directory_iterator(ws.path() / ".cadenza/runs"))
    if (e.is_directory() && !e.is_symlink()) runs.insert(e.path().filename().string());
  EXPECT_EQ(runs.size(), 2u);
}

// kill -9 of an attached run between starting a job and recording it (made
// here by removing the record's lines): the next run cannot know the orphan
// and runs the stage itself; the orphan, finishing later, must not replace
// that run's output (the lock would then disagree with the file).
TEST(DetachE2E, AnOrphanTheNextRunDidNotKnowNeverReplacesItsOutput) {
  Workspace ws("");
  // The first run's job holds until the test says "go", whatever the load
  // (it must not finish before the second run takes over); the second run's
  // job (mode 0) does not hold.
  const std::string dir = ws.str();
  ws.write("workflow.toml", "[workflow]\nname = \"e2e\"\n[stages.a]\nplugin = \"stage_shell\"\n"
                            "outs = { o = \"out/a\" }\nparams = { cmd = \"if [ $(cat " + dir +
                                "/mode) = hold ]; then touch " + dir + "/holding; until [ -e " + dir +
                                "/go ]; do sleep 0.05; done; fi; head -c 100000 /dev/urandom > "
                                "$CADENZA_OUT_O\" }\n");
  ws.write("mode", "hold");
  test::CliProcess first(ws.str(), {"run"});
  ASSERT_TRUE(wait_until([&] { return pid_of_stage(ws, "a") > 0 && ws.exists("holding"); }));
  const int orphan = pid_of_stage(ws, "a");
  first.signal(SIGKILL);
  first.wait();
  const std::string first_run = fs::read_symlink(ws.str() + "/.cadenza/runs/latest").string();
  std::string kept;
  for (std::istringstream in(ws.read(".cadenza/runs/latest/events.jsonl")); ;) {
    std::string line;
    if (!std::getline(in, line)) break;
    if (line.find("\"stage\":\"a\"") == std::string::npos) kept += line + "\n";
  }
  ws.write(".cadenza/runs/latest/events.jsonl", kept);
  ASSERT_TRUE(process_exists(orphan));

  // The second run takes the workspace over, then waits for the orphan's
  // claim on the stage; only then may the orphan go on.
  ws.write("mode", "0");
  test::CliProcess second_run(ws.str(), {"run"});
  ASSERT_TRUE(wait_until([&] {
    return ws.read(".cadenza/runs/" + first_run + "/events.jsonl").find("superseded") != std::string::npos;
  }));
  ws.write("go", "");
  auto second = second_run.wait();
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_THAT(second.output, Not(HasSubstr("waiting for its job")));
  const std::string mine = ws.read("out/a");
  ASSERT_TRUE(wait_until([&] { return !process_exists(orphan); }, 20));
  EXPECT_EQ(ws.read("out/a"), mine) << "the orphan replaced the newer run's output";
  EXPECT_THAT(ws.cadenza({"status"}).output, HasSubstr("a  up to date"));
  EXPECT_THAT(ws.read(".cadenza/runs/" + first_run + "/a/result.json"),
              HasSubstr("did not wait for this job"));
}

// Two `cadenza run` started at once in one workspace: one runs, the other
// refuses naming it (or, if it came after, finds everything up to date).
TEST(DetachE2E, TwoRunsStartedAtOnceNeverBothRunAStage) {
  Workspace ws("");
  ws.write("workflow.toml", "[workflow]\nname = \"e2e\"\n" +
                                worker("prep", "data/in.txt", "out/prep",
                                       "trace = \"" + ws.str() + "/trace.txt\", sleep_ms = 300"));
  for (int i = 0; i < 4; ++i) {
    ws.write("data/in.txt", "version " + std::to_string(i) + "\n");
    test::CliProcess a(ws.str(), {"run"});
    test::CliProcess b(ws.str(), {"run"});
    const auto ra = a.wait();
    const auto rb = b.wait();
    for (const auto* r : {&ra, &rb})
      if (r->exit_code != 0) {
        EXPECT_THAT(r->output, HasSubstr("already has a live run, run 2"));
      }
    EXPECT_TRUE(ra.exit_code == 0 || rb.exit_code == 0) << ra.output << rb.output;
    EXPECT_EQ(lines_of(ws, "trace.txt"), i + 1) << ra.output << rb.output;
  }
  EXPECT_THAT(ws.cadenza({"status"}).output, HasSubstr("prep  up to date"));
}

}  // namespace
}  // namespace cadenza
