// End-to-end: push, pull and sync through a real OpenSSH server on
// 127.0.0.1 (scripts/sshd-test-server.sh, started by scripts/test.sh). The
// "remote" directories are on this machine, reached only through ssh and
// rsync. Without the server these tests are skipped loudly; in CI they fail.
#include <gmock/gmock.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <fstream>
#include <thread>

#include "subprocess.h"
#include "workspace.h"

namespace cadenza {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kReader = std::string(CADENZA_TEST_SOURCE_DIR) + "/tensorboard/read_events.py";

std::string ssh_config() {
  const char* c = std::getenv("CADENZA_TEST_SSH_CONFIG");
  return c ? c : "";
}

#define REQUIRE_SSHD()                                                                              \
  do {                                                                                              \
    if (ssh_config().empty() || !fs::exists(ssh_config())) {                                        \
      if (std::getenv("CI")) FAIL() << "CI needs the test sshd (CADENZA_TEST_SSH_CONFIG unset)";    \
      GTEST_SKIP() << "*** no test sshd: eval \"$(scripts/sshd-test-server.sh start)\" "            \
                      "(scripts/test.sh does) ***";                                                 \
    }                                                                                               \
    ::setenv("CADENZA_SSH_COMMAND", ("ssh -F " + ssh_config()).c_str(), 1);                       \
  } while (0)

// Logins the test sshd accepted so far (its log is next to its config).
int logins() {
  std::ifstream in(fs::path(ssh_config()).parent_path() / "sshd.log");
  int n = 0;
  for (std::string line; std::getline(in, line);) n += line.find("Accepted publickey") != std::string::npos;
  return n;
}

const std::string kStages =
    worker("prep", "data/in.txt", "out/prep.txt", "upper = true") +
    "[stages.tree]\nplugin = \"stage_shell\"\ndeps = { in = \"out/prep.txt\" }\nouts = { t = \"out/tree\" }\n"
    "params = { cmd = \"mkdir -p $CADENZA_OUT_T/sub && cp $CADENZA_DEP_IN $CADENZA_OUT_T/a && "
    "head -c 300000 /dev/urandom > $CADENZA_OUT_T/sub/b\" }\n\n";

// A workspace whose cache is the remote directory: `cache verify` there.
test::CliResult verify_remote(const std::string& remote_dir) {
  Workspace there(kStages, "cache_dir = \"" + remote_dir + "\"\n");
  return there.cadenza({"cache", "verify"});
}

TEST(SshE2E, UnsupportedRemotesAreRefusedNotTakenForDirectories) {
  Workspace ws(kStages, "remote = \"s3://bucket/cache\"\n");
  auto r = ws.cadenza({"push"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("workflow.toml:3:10: workflow.remote 's3://bucket/cache': the scheme 's3://' is not supported"));
  EXPECT_THAT(r.output, HasSubstr("ssh://[user@]host[:port]/path"));
  ws.write("workflow.toml", "[workflow]\nname = \"e2e\"\n" + kStages);
  r = ws.cadenza({"push", "--remote", "https://example.org/cache"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("'https://' is not supported"));
  EXPECT_FALSE(ws.exists("https:"));
}

TEST(SshE2E, PushAndPullOverSshMoveOnlyWhatIsMissingOnOneConnection) {
  REQUIRE_SSHD();
  test::TempDir remote;
  Workspace ws(kStages);
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 0);
  ASSERT_EQ(ws.cadenza({"exp", "run", "--set", "prep.upper=false", "--name", "lower"}).exit_code, 0);
  const std::string where = "cadenza-test:" + remote.str() + "/cache";
  const int before = logins();
  auto push = ws.cadenza({"push", "--remote", where});
  ASSERT_EQ(push.exit_code, 0) << push.output;
  const std::string prefix = "push ssh://cadenza-test" + remote.str() + "/cache: ";
  ASSERT_THAT(push.output, HasSubstr(prefix));
  const int sent = std::atoi(push.output.c_str() + push.output.find(prefix) + prefix.size());
  EXPECT_GE(sent, 8);  // 2 stages x 2 lock files: entries, manifests, objects
  EXPECT_THAT(push.output, HasSubstr(" files copied, 0 already there; 1 experiment record"));
  EXPECT_EQ(logins() - before, 1) << "one push, one ssh connection";
  EXPECT_FALSE(ws.exists("cadenza-test:" + remote.str()));
  auto again = ws.cadenza({"push", "--remote", "ssh://cadenza-test" + remote.str() + "/cache"});
  EXPECT_THAT(again.output, HasSubstr(": 0 files copied, " + std::to_string(sent) + " already there"));
  auto verify = verify_remote(remote.str() + "/cache");
  EXPECT_EQ(verify.exit_code, 0) << verify.output;

  // A colleague's clone: pull, check out, and adopt the experiment.
  Workspace clone(kStages, "remote = \"" + where + "\"\n");
  clone.write("workflow.lock", ws.read("workflow.lock"));  // committed with the workflow
  auto pull = clone.cadenza({"pull"});
  ASSERT_EQ(pull.exit_code, 0) << pull.output;
  EXPECT_THAT(pull.output, HasSubstr("1 experiment record"));
  ASSERT_EQ(clone.cadenza({"checkout"}).exit_code, 0);
  EXPECT_EQ(clone.read("out/tree/sub/b"), ws.read("out/tree/sub/b"));
  EXPECT_THAT(clone.cadenza({"status"}).output, HasSubstr("tree  up to date"));
  EXPECT_THAT(clone.cadenza({"exp", "show"}).output, HasSubstr("lower"));
  auto pulled_again = clone.cadenza({"pull"});
  EXPECT_THAT(pulled_again.output, HasSubstr("0 files copied"));
  // Pulled objects are sealed like stored ones.
  struct stat st;
  const std::string hash = nlohmann::json::parse(clone.read("workflow.lock"))["stages"]["prep"]["outs"]["out"]["hash"];
  ASSERT_EQ(::stat((clone.str() + "/.cadenza/cache/objects/" + hash.substr(0, 2) + "/" + hash.substr(2)).c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 0);
  EXPECT_EQ(st.st_mode & 0777, 0444u);
}

// Pids of the processes whose parent is `pid`, recursively.
std::vector<int> descendants(int pid) {
  std::vector<int> out;
  test::for_each_process("stat", [&](int p, const std::string& stat) {
    const size_t close = stat.rfind(')');  // "pid (comm) state ppid ..."
    if (close == std::string::npos) return;
    std::istringstream fields(stat.substr(close + 2));
    std::string state;
    int ppid = 0;
    fields >> state >> ppid;
    if (ppid != pid) return;
    out.push_back(p);
    for (int d : descendants(p)) out.push_back(d);
  });
  return out;
}

uint64_t bytes_under(const fs::path& dir) {
  uint64_t n = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file(ec)) n += it->file_size(ec);
  return n;
}

TEST(SshE2E, APushKilledMidwayLeavesTheRemoteValidAndTheNextOneCompletesIt) {
  REQUIRE_SSHD();
  test::TempDir remote;
  Workspace ws("[stages.big]\nplugin = \"stage_shell\"\nouts = { o = \"out/big.bin\" }\n"
               "params = { cmd = \"head -c 400000000 /dev/urandom > $CADENZA_OUT_O\" }\n");
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 0);
  const std::string where = "cadenza-test:" + remote.str();
  {
    test::CliProcess push(ws.str(), {"push", "--remote", where});
    ASSERT_TRUE(wait_until([&] { return bytes_under(remote.path()) > 20'000'000; }, 30))
        << "the transfer never got going";
    for (int pid : descendants(push.pid())) ::kill(pid, SIGKILL);
    push.signal(SIGKILL);
    push.wait();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the far rsync notices
  auto verify = verify_remote(remote.str());
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  EXPECT_THAT(verify.output, HasSubstr("0 objects ok"));  // nothing half-written in objects/
  auto push = ws.cadenza({"push", "--remote", where});
  ASSERT_EQ(push.exit_code, 0) << push.output;
  EXPECT_THAT(push.output, HasSubstr("2 files copied"));
  verify = verify_remote(remote.str());
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  EXPECT_THAT(verify.output, HasSubstr("1 objects ok (400.0 MB)"));
}

TEST(SshE2E, EachErrorAUserMeetsSaysWhatToDo) {
  REQUIRE_SSHD();
  test::TempDir remote;
  Workspace ws(kStages);
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 0);
  auto push = [&](const std::string& where) { return ws.cadenza({"push", "--remote", where}); };
  auto r = push("cadenza-test-unknown-key:" + remote.str());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("the host key of cadenza-test-unknown-key is not in your known_hosts"));
  EXPECT_THAT(r.output, HasSubstr("never accepts a host key itself"));
  r = push("cadenza-test-denied:" + remote.str());
  EXPECT_THAT(r.output, HasSubstr("cadenza-test-denied refused the login (permission denied)"));
  r = ws.cadenza({"pull", "--remote", "cadenza-test:" + remote.str() + "/no/such/dir"});
  EXPECT_THAT(r.output, HasSubstr(remote.str() + "/no/such/dir does not exist on cadenza-test"));
  r = push("cadenza-test:" + remote.str() + "/no/such/dir");
  EXPECT_THAT(r.output, HasSubstr("nor could it be created"));
  remote.write("notes/readme.txt", "not a cache");
  r = push("cadenza-test:" + remote.str() + "/notes");
  EXPECT_THAT(r.output, HasSubstr("is not a Cadenza cache"));
  EXPECT_FALSE(remote.exists("notes/objects"));
}

// A small filesystem that fills up, for the disk-full errors (root only).
class Tmpfs {
 public:
  explicit Tmpfs(const std::string& dir) : dir_(dir) {
    fs::create_directories(dir);
    mounted_ = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=256k") == 0;
  }
  ~Tmpfs() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }

 private:
  std::string dir_;
  bool mounted_ = false;
};

TEST(SshE2E, AFullDiskOnEitherSideIsAClearErrorAndKeepsBothCachesValid) {
  REQUIRE_SSHD();
  test::TempDir scratch;
  Tmpfs small(scratch.str() + "/small");
  if (!small.mounted()) {
    if (std::getenv("CI")) FAIL() << "CI runs as root and must be able to mount a tmpfs";
    GTEST_SKIP() << "*** cannot mount a tmpfs (not root): disk-full test SKIPPED ***";
  }
  Workspace ws(kStages);  // its tree holds a 300 KB file: more than the 256 KB disk
  ASSERT_EQ(ws.cadenza({"run"}).exit_code, 0);
  auto r = ws.cadenza({"push", "--remote", "cadenza-test:" + scratch.str() + "/small"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("no space left on device"));
  EXPECT_THAT(r.output, HasSubstr("free space and run the same command again"));
  EXPECT_EQ(verify_remote(scratch.str() + "/small").exit_code, 0);

  // Pull into a full local cache.
  ASSERT_EQ(ws.cadenza({"push", "--remote", "cadenza-test:" + scratch.str() + "/big"}).exit_code, 0);
  fs::remove_all(scratch.path() / "small" / "objects");
  fs::remove_all(scratch.path() / "small" / "tmp");
  Workspace clone(kStages, "cache_dir = \"" + scratch.str() + "/small\"\n");
  clone.write("workflow.lock", ws.read("workflow.lock"));
  r = clone.cadenza({"pull", "--remote", "cadenza-test:" + scratch.str() + "/big"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("no space left on device"));
  auto verify = clone.cadenza({"cache", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
}

// One TensorBoard record (TFRecord framing, masked CRC-32C from the reader).
const char* kAppender = R"PY(
import struct, sys, time
sys.path.insert(0, sys.argv[1])
from read_events import masked
def record(payload):
    header = struct.pack("<Q", len(payload))
    return header + struct.pack("<I", masked(header)) + payload + struct.pack("<I", masked(payload))
def event(step):
    return b"\x09" + struct.pack("<d", time.time()) + b"\x10" + bytes([step])
with open(sys.argv[2], "ab", buffering=0) as f:
    f.write(record(b"\x09" + struct.pack("<d", time.time()) + b"\x1a\x0dbrain.Event:2"))
    for step in range(1, 81):
        r = record(event(step))
        f.write(r[:7]); time.sleep(0.02); f.write(r[7:])   # torn while half-written
        time.sleep(0.03)
)PY";

TEST(SshE2E, SyncMirrorsAGrowingEventFileAsAValidPrefixAndCatchesUp) {
  REQUIRE_SSHD();
  Workspace remote_ws(kStages, "sinks = [\"tensorboard\"]\n");
  ASSERT_EQ(remote_ws.cadenza({"run"}).exit_code, 0);
  test::TempDir local;
  const std::string rel = "logs/tensorboard/live/train/events.out.tfevents.1800000000.node1.1.0";
  fs::create_directories((remote_ws.path() / rel).parent_path());
  const std::string mirror = local.str() + "/mirror";
  test::CliProcess sync(local.str(), {"sync", "cadenza-test:" + remote_ws.str(), mirror, "--every", "1s"});
  ASSERT_TRUE(sync.wait_for_output("files updated", 20)) << sync.output();
  std::thread writer([&] {
    run_process({"/usr/bin/python3", "-c", kAppender, std::string(CADENZA_TEST_SOURCE_DIR) + "/tensorboard",
                 remote_ws.str() + "/" + rel});
  });
  uint64_t inode = 0;
  int checks = 0;
  // Enough checks of the growing mirror, however slowly this machine runs.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (checks <= 10 && std::chrono::steady_clock::now() < until) {
    struct stat st;
    if (::stat((mirror + "/" + rel).c_str(), &st) == 0) {
      if (inode == 0) inode = st.st_ino;
      EXPECT_EQ(st.st_ino, inode) << "the mirrored event file was replaced, not appended to";
      const auto r = run_process({"/usr/bin/python3", kReader, "--allow-torn-tail", mirror + "/logs/tensorboard"});
      EXPECT_TRUE(r.ok()) << r.err;
      ++checks;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  writer.join();
  const std::string final_bytes = remote_ws.read(rel);
  EXPECT_TRUE(wait_until([&] { return fs::exists(mirror + "/" + rel) && read_file(mirror + "/" + rel) == final_bytes; }, 60))
      << "the mirror did not catch up";
  EXPECT_GT(checks, 10);
  sync.signal(SIGINT);
  EXPECT_EQ(sync.wait().exit_code, 0);
  // The mirror's records, read by the usual commands.
  EXPECT_THAT(test::run_cadenza(mirror, {"status"}).output, HasSubstr("mirror of ssh://cadenza-test" + remote_ws.str()));
  EXPECT_THAT(test::run_cadenza(mirror, {"status"}).output, HasSubstr("tree  succeeded"));
  EXPECT_FALSE(fs::exists(mirror + "/out"));  // records and logs, not outputs
}

TEST(SshE2E, SyncBringsTheExperimentsTableToTheLaptop) {
  REQUIRE_SSHD();
  Workspace remote_ws(kStages);
  ASSERT_EQ(remote_ws.cadenza({"exp", "run", "--set", "prep.upper=false", "--name", "lower"}).exit_code, 0);
  test::TempDir local;
  auto r = test::run_cadenza(local.str(), {"sync", "ssh://cadenza-test" + remote_ws.str(), "m"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto show = test::run_cadenza(local.str() + "/m", {"exp", "show"});
  EXPECT_THAT(show.output, HasSubstr("lower"));
  EXPECT_THAT(show.output, HasSubstr("succeeded"));
  EXPECT_FALSE(fs::exists(local.str() + "/m/.cadenza/exps/lower/ws"));
  r = test::run_cadenza(local.str(), {"sync", "cadenza-test:" + remote_ws.str() + "/data", "m2"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("is not a Cadenza workspace (no workflow.toml in it)"));
}

}  // namespace
}  // namespace cadenza
