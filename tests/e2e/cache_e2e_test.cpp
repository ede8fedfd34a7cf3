// End-to-end: the run-cache, lock file and cache commands with the real binary.
#include <dirent.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <sys/stat.h>

#include <random>
#include <thread>

#include "workspace.h"

namespace cadenza {
namespace {

using test::run_cadenza;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kTwoStages =
    worker("a", "data/in.txt", "out/a.txt", "upper = true") +
    worker("b", "out/a.txt", "out/b.txt", "suffix = \"!\"");

nlohmann::json lock_of(Workspace& ws) { return nlohmann::json::parse(ws.read("workflow.lock")); }

TEST(CacheE2E, SecondRunIsANoOpAndTheLockRecordsWhatProducedWhat) {
  Workspace ws(kTwoStages);
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 0);
  auto lock = lock_of(ws);
  const auto& b = lock["stages"]["b"];
  EXPECT_EQ(b["plugin"]["name"], "stage_test_worker");
  EXPECT_EQ(b["params"]["suffix"], "!");
  EXPECT_EQ(b["deps"]["in"]["path"], "out/a.txt");
  EXPECT_EQ(b["outs"]["out"]["path"], "out/b.txt");
  EXPECT_EQ(b["outs"]["out"]["size"], 7);
  EXPECT_EQ(b["key"].get<std::string>().size(), 32u);
  auto again = ws.cadenza({"run"});
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_THAT(again.output, HasSubstr("0 ran, 2 up to date"));
  EXPECT_THAT(again.output, Not(HasSubstr("started")));
  auto status = ws.cadenza({"status"});
  EXPECT_EQ(status.output, "a  up to date\nb  up to date\n");
}

TEST(CacheE2E, ChangingADepByteRerunsAndSaysWhy) {
  Workspace ws(kTwoStages);
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 0);
  ws.write("data/in.txt", "world\n");
  EXPECT_EQ(ws.cadenza({"status"}).output,
            "a  stale: dep data/in.txt changed\nb  stale: upstream 'a' will run first\n");
  auto r = ws.cadenza({"run", "--explain"});
  EXPECT_THAT(r.output, HasSubstr("[a] runs: dep data/in.txt changed"));
  EXPECT_THAT(r.output, HasSubstr("[b] runs: dep out/a.txt changed"));
  EXPECT_THAT(r.output, HasSubstr("2 ran"));
  EXPECT_EQ(ws.read("out/b.txt"), "WORLD\n!");
}

TEST(CacheE2E, AnUpstreamRerunWithIdenticalOutputStopsThere) {
  Workspace ws(kTwoStages);
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 0);
  ws.write("data/in.txt", "hellO\n");  // upper-cases to the same HELLO
  auto r = ws.cadenza({"run", "--explain"});
  EXPECT_THAT(r.output, HasSubstr("[a] runs: dep data/in.txt changed"));
  EXPECT_THAT(r.output, HasSubstr("[b] up to date"));
  EXPECT_THAT(r.output, HasSubstr("1 ran, 1 up to date"));
}

TEST(CacheE2E, ChangingAParamRerunsThatStageOnly) {
  Workspace ws(kTwoStages);
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 0);
  ws.write("workflow.toml", "[workflow]\nname = \"e2e\"\n" + worker("a", "data/in.txt", "out/a.txt", "upper = true") +
                                worker("b", "out/a.txt", "out/b.txt", "suffix = \"?\""));
  EXPECT_THAT(ws.cadenza({"status"}).output, HasSubstr("b  stale: params.b.suffix \"!\" -> \"?\""));
  auto r = ws.cadenza({"run"});
  EXPECT_THAT(r.output, HasSubstr("1 ran, 1 up to date"));
  EXPECT_EQ(ws.read("out/b.txt"), "HELLO\n?");
}

TEST(CacheE2E, CommentsOtherStagesAndTheBackendDoNotRerun) {
  Workspace ws(kTwoStages);
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 0);
  ws.write("workflow.toml", "# a comment\n[workflow]\nname = \"e2e\"\nbackend = \"backend_local\"\n\n" +
                                worker("a", "data/in.txt", "out/a.txt", "upper = true") +
                                "# another comment\n" +
                                worker("b", "out/a.txt", "out/b.txt", "suffix = \"!\"") +
                                worker("c", "data/in.txt", "out/c.txt", "sleep_ms = 1"));
  auto r = ws.cadenza({"run"});
  EXPECT_THAT(r.output, HasSubstr("1 ran, 2 up to date"));  // only the new stage c
}

TEST(CacheE2E, ARebuiltPluginReruns) {
  Workspace ws(worker("a", "data/in.txt", "out/a.txt"));
  fs::create_directories(ws.path() / "plugins");
  const std::string copy = (ws.path() / "plugins/cadenza-stage_test_worker.so").string();
  fs::copy_file(test::test_plugin_dir() + "/cadenza-stage_test_worker.so", copy);
  const std::string path = ws.str() + "/plugins:" + test::test_plugin_dir();
  ASSERT_EQ(run_cadenza(ws.str(), {"run"}, path).exit_code, 0);
  std::ofstream(copy, std::ios::app | std::ios::binary) << "rebuilt";  // new bytes, same code
  EXPECT_EQ(run_cadenza(ws.str(), {"status"}, path).output,
            "a  stale: plugin stage_test_worker rebuilt\n");
  EXPECT_THAT(run_cadenza(ws.str(), {"run"}, path).output, HasSubstr("1 ran"));
}

TEST(CacheE2E, AnOutDeletedByHandIsRestoredFromTheCache) {
  Workspace ws(kTwoStages);
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 0);
  fs::remove(ws.path() / "out/b.txt");
  EXPECT_EQ(ws.cadenza({"status"}).output,
            "a  up to date\nb  restorable from cache: out out/b.txt is missing\n");
  auto r = ws.cadenza({"run"});
  EXPECT_THAT(r.output, HasSubstr("[b] restored from cache (key "));
  EXPECT_EQ(ws.read("out/b.txt"), "HELLO\n!");
  // Without the cache entry, the stage reruns.
  fs::remove(ws.path() / "out/b.txt");
  fs::remove_all(ws.path() / ".cadenza/cache/runs");
  EXPECT_THAT(ws.cadenza({"run"}).output, HasSubstr("1 ran, 1 up to date"));
  EXPECT_EQ(ws.read("out/b.txt"), "HELLO\n!");
}

TEST(CacheE2E, AnOutEditedByHandIsNotUpToDate) {
  Workspace ws(kTwoStages);
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 0);
  ws.write("out/a.txt", "tampered");
  EXPECT_THAT(ws.cadenza({"status"}).output, HasSubstr("a  restorable from cache: out out/a.txt was modified"));
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 0);
  EXPECT_EQ(ws.read("out/a.txt"), "HELLO\n");
}

TEST(CacheE2E, ReturningToEarlierParamsRestoresInsteadOfRunning) {
  Workspace ws(worker("a", "data/in.txt", "out/a.txt", "suffix = \"1\""));
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 0);
  ws.write("workflow.toml", "[workflow]\nname = \"e2e\"\n" + worker("a", "data/in.txt", "out/a.txt", "suffix = \"2\""));
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 0);
  ws.write("workflow.toml", "[workflow]\nname = \"e2e\"\n" + worker("a", "data/in.txt", "out/a.txt", "suffix = \"1\""));
  auto r = ws.cadenza({"run"});
  EXPECT_THAT(r.output, HasSubstr("[a] restored from cache"));
  EXPECT_EQ(ws.read("out/a.txt"), "hello\n1");
}

TEST(CacheE2E, ForceRerunsEverything) {
  Workspace ws(kTwoStages);
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 0);
  EXPECT_THAT(ws.cadenza({"run", "--force"}).output, HasSubstr("2 ran"));
}

// Checkpoints live in the scratch dir: only a rerun of exactly the same work
// (same key) may resume from it; new inputs or --force start fresh.
TEST(CacheE2E, ScratchIsPerKeyAndSurvivesOnlyTheSameWork) {
  Workspace ws(worker("train", "data/in.txt", "out/model", "mode = \"count_runs\""));
  ::setenv("CADENZA_TEST_FAIL", "1", 1);
  EXPECT_EQ(ws.cadenza({"run"}).exit_code, 1);  // killed or failed half-way
  ::unsetenv("CADENZA_TEST_FAIL");
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 0);
  EXPECT_EQ(ws.read("out/model"), "runs=2");    // resumed: the same key saw its scratch
  ws.write("data/in.txt", "new recordings\n");
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 0);
  EXPECT_EQ(ws.read("out/model"), "runs=1");    // new data: nothing stale is resumed
  ASSERT_EQ(ws.cadenza({"run", "--force"}).exit_code, 0);
  EXPECT_EQ(ws.read("out/model"), "runs=1");    // --force starts from scratch
}

TEST(CacheE2E, DirectoryOutputsAndCheckout) {
  Workspace ws("[stages.tree]\nplugin = \"stage_shell\"\ndeps = { in = \"data/in.txt\" }\n"
               "outs = { dir = \"out/tree\" }\n"
               "params = { cmd = \"mkdir -p {out:dir}/sub && cp {dep:in} {out:dir}/a && echo b > {out:dir}/sub/b\" }\n");
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 0);
  EXPECT_EQ(lock_of(ws)["stages"]["tree"]["outs"]["dir"]["kind"], "dir");
  fs::remove_all(ws.path() / "out");
  auto c = ws.cadenza({"checkout"});
  EXPECT_EQ(c.exit_code, 0) << c.output;
  EXPECT_THAT(c.output, HasSubstr("tree: restored out/tree"));
  EXPECT_EQ(ws.read("out/tree/sub/b"), "b\n");
  EXPECT_EQ(ws.cadenza({"status"}).output, "tree  up to date\n");
}

TEST(CacheE2E, SharedCacheAcrossWorkspacesSkipsWorkAndGcRespectsBoth) {
  test::TempDir shared;
  const std::string header = "cache_dir = \"" + shared.str() + "/cache\"\n";
  Workspace one(kTwoStages, header), two(kTwoStages, header);
  ASSERT_EQ(one.cadenza({"run"}).exit_code, 0);
  auto r = two.cadenza({"run"});
  EXPECT_THAT(r.output, HasSubstr("0 ran, 2 restored from cache"));
  EXPECT_EQ(two.read("out/b.txt"), "HELLO\n!");
  // Workspace one moves on; two still needs the old objects.
  one.write("workflow.toml", "[workflow]\nname = \"e2e\"\n" + header +
                                 worker("a", "data/in.txt", "out/a.txt", "upper = false") +
                                 worker("b", "out/a.txt", "out/b.txt", "suffix = \"!\""));
  ASSERT_EQ(one.cadenza({"run"}).exit_code, 0);
  auto gc = one.cadenza({"gc", "--runs", "--grace", "0"});
  EXPECT_EQ(gc.exit_code, 0) << gc.output;
  EXPECT_THAT(gc.output, HasSubstr("2 lock files consulted"));
  fs::remove_all(two.path() / "out");
  auto c = two.cadenza({"checkout"});
  EXPECT_EQ(c.exit_code, 0) << c.output;
  EXPECT_EQ(two.read("out/b.txt"), "HELLO\n!");
}

// Two workspaces on one cache start the same work at the same time: it runs
// once, and the second waits for the first and restores its result.
TEST(CacheE2E, IdenticalWorkStartedTwiceAtOnceRunsOnce) {
  test::TempDir shared;
  const std::string header = "cache_dir = \"" + shared.str() + "/cache\"\n";
  const std::string stage = worker("a", "data/in.txt", "out/a.txt",
                                   "sleep_ms = 1500, trace = \"" + shared.str() + "/trace.txt\"");
  Workspace one(stage, header), two(stage, header);
  test::CliProcess first(one.str(), {"run"});
  ASSERT_TRUE(wait_until([&] { return fs::exists(shared.path() / "trace.txt"); }));
  auto second = two.cadenza({"run"});
  EXPECT_EQ(second.exit_code, 0) << second.output;
  EXPECT_THAT(second.output, HasSubstr("is running elsewhere on this cache; waiting for it"));
  EXPECT_THAT(second.output, HasSubstr("restored from cache by exec-stage"));
  EXPECT_EQ(first.wait().exit_code, 0);
  EXPECT_EQ(shared.read("trace.txt"), "a\n");  // executed once
  EXPECT_EQ(two.read("out/a.txt"), one.read("out/a.txt"));
  EXPECT_TRUE(fs::is_empty(shared.path() / "cache/claims"));  // no claim left behind
}

TEST(CacheE2E, GcRemovesWhatNothingNeeds) {
  Workspace ws(worker("a", "data/in.txt", "out/a.txt", "suffix = \"1\""));
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 0);
  ws.write("workflow.toml", "[workflow]\nname = \"e2e\"\n" + worker("a", "data/in.txt", "out/a.txt", "suffix = \"2\""));
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 0);
  EXPECT_THAT(ws.cadenza({"gc", "--grace", "0"}).output, HasSubstr("0 objects removed"));  // run-cache keeps both
  auto gc = ws.cadenza({"gc", "--runs", "--grace", "0"});
  EXPECT_THAT(gc.output, HasSubstr("1 objects removed"));
  EXPECT_THAT(gc.output, HasSubstr("1 run-cache entries removed"));
  EXPECT_EQ(ws.cadenza({"cache", "verify"}).exit_code, 0);
  fs::remove(ws.path() / "out/a.txt");
  EXPECT_EQ(ws.cadenza({"checkout"}).exit_code, 0);
  EXPECT_EQ(ws.read("out/a.txt"), "hello\n2");
}

TEST(CacheE2E, PushAndPullThroughADirectoryRemote) {
  test::TempDir remote;
  const std::string header = "remote = \"" + remote.str() + "\"\n";
  Workspace mine(kTwoStages, header), colleague(kTwoStages, header);
  ASSERT_EQ(mine.cadenza({"run"}).exit_code, 0);
  auto push = mine.cadenza({"push"});
  EXPECT_EQ(push.exit_code, 0) << push.output;
  EXPECT_THAT(push.output, HasSubstr("4 files copied"));
  EXPECT_THAT(mine.cadenza({"push"}).output, HasSubstr("0 files copied, 4 already there"));
  // The colleague has the lock (from git) but not the outputs.
  colleague.write("workflow.lock", mine.read("workflow.lock"));
  auto pull = colleague.cadenza({"pull"});
  EXPECT_EQ(pull.exit_code, 0) << pull.output;
  auto run = colleague.cadenza({"run"});
  EXPECT_THAT(run.output, HasSubstr("0 ran, 2 restored from cache"));
  EXPECT_EQ(colleague.read("out/b.txt"), "HELLO\n!");
  EXPECT_THAT(colleague.cadenza({"push", "--remote", "/nonexistent-remote"}).output,
              HasSubstr("push /nonexistent-remote"));
}

TEST(CacheE2E, VerifyFindsACorruptObjectAndRunDoesNotRestoreIt) {
  Workspace ws(worker("a", "data/in.txt", "out/a.txt"));
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 0);
  EXPECT_THAT(ws.cadenza({"cache", "verify"}).output, HasSubstr("1 objects ok"));
  const std::string hash = lock_of(ws)["stages"]["a"]["outs"]["out"]["hash"];
  const auto object = ws.path() / ".cadenza/cache/objects" / hash.substr(0, 2) / hash.substr(2);
  fs::permissions(object, fs::perms::owner_write, fs::perm_options::add);
  std::ofstream(object, std::ios::binary | std::ios::in) << "J";
  auto verify = ws.cadenza({"cache", "verify"});
  EXPECT_EQ(verify.exit_code, 1);
  EXPECT_THAT(verify.output, HasSubstr("corrupt: " + object.string()));
  fs::remove(ws.path() / "out/a.txt");
  auto r = ws.cadenza({"run"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("cached outputs unusable"));
  EXPECT_EQ(ws.read("out/a.txt"), "hello\n");
}

// Writes `bytes` over the start of `path` in place (through every hardlink
// to it) and sets its mtime back to 0, as a careless tool or user might.
void overwrite_in_place_and_reset_mtime(const fs::path& path, const std::string& bytes) {
  fs::permissions(path, fs::perms::owner_write, fs::perm_options::add);
  std::ofstream(path, std::ios::binary | std::ios::in) << bytes;
  fs::permissions(path, fs::perms::owner_write, fs::perm_options::remove);
  const struct timespec zero[2] = {{0, 0}, {0, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), zero, 0), 0);
}

// cache_link = "hardlink": the output is the cached object. Edited in place
// with its mtime set back, neither status, checkout nor a second workspace
// on the same cache may take the damaged bytes for the stored ones.
TEST(CacheE2E, HardlinkModeCatchesAnOutputEditedInPlaceWithItsMtimeSetBack) {
  test::TempDir shared;
  const std::string header = "cache_dir = \"" + shared.str() + "/cache\"\ncache_link = \"hardlink\"\n";
  const std::string stages = worker("a", "data/in.txt", "out/a.txt", "upper = true");
  Workspace one(stages, header), two(stages, header);
  ASSERT_EQ(one.cadenza({"run"}).exit_code, 0);
  ASSERT_EQ(fs::hard_link_count(one.path() / "out/a.txt"), 2u);  // it is the object
  EXPECT_THAT(one.cadenza({"status"}).output, HasSubstr("a  up to date"));

  overwrite_in_place_and_reset_mtime(one.path() / "out/a.txt", "J");
  EXPECT_THAT(one.cadenza({"status"}).output, Not(HasSubstr("a  up to date")));
  auto checkout = one.cadenza({"checkout"});
  EXPECT_THAT(checkout.output, HasSubstr("is corrupt"));
  EXPECT_NE(one.read("out/a.txt"), "HELLO\n");  // nothing claimed to be restored

  // The second workspace does not get "JELLO": it runs the stage, and its
  // good output replaces the damaged object.
  auto r = two.cadenza({"run"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, Not(HasSubstr("restored from cache")));
  EXPECT_EQ(two.read("out/a.txt"), "HELLO\n");
  EXPECT_EQ(one.cadenza({"run"}).exit_code, 0);
  EXPECT_EQ(one.read("out/a.txt"), "HELLO\n");
  auto verify = one.cadenza({"cache", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
}

TEST(CacheE2E, BadLockFileIsAClearError) {
  Workspace ws(worker("a", "data/in.txt", "out/a.txt"));
  ws.write("workflow.lock", "{\"version\": 1, \"stages\": 3}");
  auto r = ws.cadenza({"run"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("workflow.lock is not a valid lock file"));
  EXPECT_FALSE(ws.exists("out/a.txt"));
}

// Several cadenza processes, same and different workflows, one cache, at once.
TEST(CacheE2E, ConcurrentRunsShareOneCacheSafely) {
  test::TempDir shared;
  const std::string header = "cache_dir = \"" + shared.str() + "/cache\"\n";
  std::string stages;
  for (int i = 0; i < 6; ++i)
    stages += worker("s" + std::to_string(i), "data/in.txt", "out/s" + std::to_string(i),
                     "sleep_ms = 100, suffix = \"" + std::to_string(i) + "\"");
  stages += "[stages.join]\nplugin = \"test_worker\"\ndeps = { a = \"out/s0\", b = \"out/s5\" }\n"
            "outs = { out = \"out/join\" }\n\n";
  std::vector<std::unique_ptr<Workspace>> same, other;
  for (int i = 0; i < 3; ++i) same.push_back(std::make_unique<Workspace>(stages, header));
  for (int i = 0; i < 2; ++i) {
    other.push_back(std::make_unique<Workspace>(stages, header));
    other.back()->write("data/in.txt", "other " + std::to_string(i) + "\n");
  }
  std::vector<std::unique_ptr<test::CliProcess>> procs;
  for (auto& w : same) procs.push_back(std::make_unique<test::CliProcess>(w->str(), std::vector<std::string>{"run", "-j", "3"}));
  for (auto& w : other) procs.push_back(std::make_unique<test::CliProcess>(w->str(), std::vector<std::string>{"run", "-j", "3"}));
  for (auto& p : procs) {
    auto r = p->wait();
    EXPECT_EQ(r.exit_code, 0) << r.output;
  }
  // Serial reference.
  Workspace serial(stages);
  ASSERT_EQ(serial.cadenza({"run", "-j", "1"}).exit_code, 0);
  for (auto& w : same)
    for (const char* f : {"out/s0", "out/s3", "out/join"}) EXPECT_EQ(w->read(f), serial.read(f));
  EXPECT_EQ(other[1]->read("out/join"), "other 1\n0other 1\n5");
  auto verify = same[0]->cadenza({"cache", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  EXPECT_THAT(verify.output, HasSubstr("0 corrupt, 0 incomplete"));
}

// Kills every `cadenza exec-stage` working in `workspace`.
void kill_exec_stages(const std::string& workspace) {
  test::for_each_process("cmdline", [&](int pid, const std::string& cmdline) {
    if (cmdline.find("exec-stage") != std::string::npos && cmdline.find(workspace) != std::string::npos)
      ::kill(pid, SIGKILL);
  });
}

// kill -9 the engine and its exec-stage processes at many points; the
// next run must finish correctly on a valid cache.
TEST(CacheE2E, KilledAtAnyPointTheNextRunRecovers) {
  std::string stages = worker("a", "data/in.txt", "out/a", "sleep_ms = 60") +
                       worker("b", "out/a", "out/b", "sleep_ms = 60, upper = true") +
                       worker("c", "out/b", "out/c", "sleep_ms = 60, suffix = \"!\"") +
                       worker("d", "data/in.txt", "out/d", "sleep_ms = 30");
  Workspace reference(stages);
  ASSERT_EQ(reference.cadenza({"run"}).exit_code, 0);
  std::mt19937 rng(42);
  for (int delay_ms : {0, 5, 15, 30, 50, 80, 120, 160, 200, 260}) {
    Workspace ws(stages);
    {
      test::CliProcess p(ws.str(), {"run", "-j", "2"});
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms + static_cast<int>(rng() % 10)));
      p.signal(SIGKILL);
      kill_exec_stages(ws.str());
      p.wait();
    }
    auto r = ws.cadenza({"run"});
    ASSERT_EQ(r.exit_code, 0) << "after a kill at " << delay_ms << " ms:\n" << r.output;
    for (const char* f : {"out/a", "out/b", "out/c", "out/d"})
      EXPECT_EQ(ws.read(f), reference.read(f)) << f << " after a kill at " << delay_ms << " ms";
    EXPECT_EQ(ws.cadenza({"cache", "verify"}).exit_code, 0);
    EXPECT_EQ(ws.cadenza({"status"}).output,
              "a  up to date\nb  up to date\nc  up to date\nd  up to date\n");
  }
}

}  // namespace
}  // namespace cadenza

namespace cadenza {
namespace {

// Outputs cannot escape the workspace: not through a committed symlink (in
// run and in checkout), not onto the workflow file or its lock.
TEST(CacheE2E, OutputsCannotEscapeTheWorkspace) {
  test::TempDir outside;
  Workspace ws(worker("a", "data/in.txt", "link/escaped"));
  std::filesystem::create_directory_symlink(outside.path(), ws.path() / "link");
  auto r = ws.cadenza({"run"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("out 'out' 'link/escaped' leads outside the workspace through a symlink"));
  EXPECT_TRUE(std::filesystem::is_empty(outside.path())) << "nothing was written outside";
  // checkout: a stage that ran into a real directory, later replaced by a symlink.
  std::filesystem::remove(ws.path() / "link");
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 0);
  std::filesystem::remove_all(ws.path() / "link");
  std::filesystem::create_directory_symlink(outside.path(), ws.path() / "link");
  auto co = ws.cadenza({"checkout"});
  EXPECT_EQ(co.exit_code, 1);
  EXPECT_THAT(co.output, HasSubstr("cannot restore link/escaped: 'link/escaped' leads outside the workspace"));
  EXPECT_TRUE(std::filesystem::is_empty(outside.path()));
  // The workflow's own files.
  ws.write("workflow.toml", "[workflow]\nname = \"e2e\"\n\n" + worker("b", "data/in.txt", "workflow.lock"));
  EXPECT_THAT(ws.cadenza({"run"}).output, HasSubstr("stage 'b' out 'out' is workflow.lock, the workflow's own file"));
  ws.write("workflow.toml", "[workflow]\nname = \"e2e\"\n\n" + worker("b", "data/in.txt", "workflow.toml"));
  EXPECT_THAT(ws.cadenza({"run"}).output, HasSubstr("is workflow.toml, the workflow's own file"));
  EXPECT_THAT(ws.read("workflow.toml"), HasSubstr("[stages.b]"));
}

}  // namespace
}  // namespace cadenza

namespace cadenza {
namespace {

// Garbage in the run-cache is reported by `cache verify` (and dropped with --remove).
TEST(CacheE2E, VerifyReportsDamagedRunCacheEntries) {
  Workspace ws(worker("a", "data/in.txt", "out/a.txt"));
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 0);
  ASSERT_EQ(ws.cadenza({"cache", "verify"}).exit_code, 0);
  ws.write(".cadenza/cache/runs/ab/cdef0123456789abcdef0123456789.json", "{\"torn\": ");
  std::string real;
  for (const auto& dir : fs::recursive_directory_iterator(ws.path() / ".cadenza/cache/runs"))
    if (dir.path().extension() == ".json" && dir.path().filename().string().rfind("cdef", 0) != 0) real = dir.path().string();
  ASSERT_FALSE(real.empty());
  ws.write(".cadenza/cache/runs/00/11111111111111111111111111111111.json", read_file(real));  // another key's entry
  auto verify = ws.cadenza({"cache", "verify"});
  EXPECT_EQ(verify.exit_code, 1) << verify.output;
  EXPECT_THAT(verify.output, HasSubstr("damaged: run-cache entry " + ws.str() +
                                       "/.cadenza/cache/runs/ab/cdef0123456789abcdef0123456789.json: not a run-cache entry"));
  EXPECT_THAT(verify.output, HasSubstr("runs/00/11111111111111111111111111111111.json: it holds the entry of key"));
  EXPECT_THAT(verify.output, HasSubstr("2 damaged run-cache entries"));
  EXPECT_EQ(ws.cadenza({"cache", "verify", "--remove"}).exit_code, 1);
  EXPECT_EQ(ws.cadenza({"cache", "verify"}).exit_code, 0);
  EXPECT_THAT(ws.cadenza({"run"}).output, HasSubstr("0 ran, 1 up to date"));
}

}  // namespace
}  // namespace cadenza

namespace cadenza {
namespace {

// One duration format for every flag: gc --grace took whole seconds only
// ("1h" was refused) and sync --every had a parser of its own.
TEST(CacheE2E, DurationsOnTheCommandLineReadAsInWorkflowToml) {
  Workspace ws(worker("a", "data/in.txt", "out/a"));
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 0);
  for (const char* grace : {"1h", "90s", "2d", "1:30:00", "3600"}) {
    auto gc = ws.cadenza({"gc", "--grace", grace, "-n"});
    EXPECT_EQ(gc.exit_code, 0) << grace << ": " << gc.output;
  }
  auto bad = ws.cadenza({"gc", "--grace", "1 hour"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_THAT(bad.output, HasSubstr("--grace '1 hour' is not a duration (e.g. 3600, 90s, 30m, 1h, 2d)"));
  auto sync = ws.cadenza({"sync", "nohost:/ws", ws.str() + "/mirror", "--every", "1 minute"});
  EXPECT_NE(sync.exit_code, 0);
  EXPECT_THAT(sync.output, HasSubstr("--every '1 minute' is not a period between 0.1s and 24h"));
}

}  // namespace
}  // namespace cadenza
