// End-to-end: stages in containers. Charliecloud is real (ch-run on a
// directory image that scripts/build-image.sh --minimal made; the test
// command builds it and exports CADENZA_TEST_IMAGE). Apptainer, Singularity
// and Podman cannot run here (not in Debian 12 / refused by this sandbox):
// their command lines are checked through a stand-in (container_stand_in.sh)
// that records its argv and runs the inner command on the host.
#include <gmock/gmock.h>

#include <cstdlib>

#include "subprocess.h"
#include "workspace.h"

namespace cadenza {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

#define REQUIRE_IMAGE()                                                                                    \
  do {                                                                                                     \
    if (!std::getenv("CADENZA_TEST_IMAGE")) {                                                              \
      if (std::getenv("CI")) FAIL() << "CI needs the test image (CADENZA_TEST_IMAGE unset)";               \
      GTEST_SKIP() << "*** no container test image: scripts/test.sh builds it (scripts/build-image.sh "   \
                      "--minimal) and sets CADENZA_TEST_IMAGE ***";                                      \
    }                                                                                                      \
  } while (0)

// A hard-linked copy of the test image that a test may change.
std::string own_image(const test::TempDir& dir) {
  const std::string copy = dir.str() + "/image";
  const ProcessResult r = run_process({"/bin/cp", "-al", std::getenv("CADENZA_TEST_IMAGE"), copy});
  EXPECT_TRUE(r.ok()) << r.err;
  return copy;
}

std::string container(const std::string& image, const std::string& runtime, const std::string& more = "") {
  return "[container]\nimage = \"" + image + "\"\nruntime = \"" + runtime + "\"\ncadenza = \"host\"\n" + more + "\n";
}

std::string shell(const std::string& name, const std::string& cmd, const std::string& more = "") {
  return "[stages." + name + "]\nplugin = \"stage_shell\"\nouts = { o = \"out/" + name + "\" }\nparams = { cmd = \"" +
         cmd + "\" }\n" + more + "\n";
}

// Sets an environment variable for the test's lifetime.
struct ScopedEnv {
  std::string name, old;
  bool had;
  ScopedEnv(std::string n, const std::string& value) : name(std::move(n)) {
    const char* o = std::getenv(name.c_str());
    had = o != nullptr;
    old = o ? o : "";
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() { had ? ::setenv(name.c_str(), old.c_str(), 1) : ::unsetenv(name.c_str()); }
};

TEST(ContainerE2E, CharliecloudRunsTheStageInTheImageAndTheImageEntersTheKey) {
  REQUIRE_IMAGE();
  Workspace ws("", "");
  const std::string image = own_image(ws);
  ws.write("workflow.toml", "[workflow]\nname = \"c\"\n\n" + container(image, "charliecloud") +
                                shell("inside", "cat /etc/cadenza-image > {out:o}; echo in=$CADENZA_IN_CONTAINER >> {out:o}") +
                                shell("outside", "test -e /etc/cadenza-image && echo yes > {out:o} || echo no > {out:o}",
                                      "container = false\n"));
  auto r = ws.cadenza({"run"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(ws.read("out/inside"), HasSubstr("cadenza runtime image: debian bookworm"));
  EXPECT_THAT(ws.read("out/inside"), HasSubstr("in=1"));
  EXPECT_EQ(ws.read("out/outside"), "no\n");  // the host has no such file
  EXPECT_EQ(ws.cadenza({"cache", "verify"}).exit_code, 0);
  const auto lock = nlohmann::json::parse(ws.read("workflow.lock"));
  EXPECT_THAT(lock["stages"]["inside"]["image"]["id"].get<std::string>(), ::testing::StartsWith("tree:"));
  EXPECT_FALSE(lock["stages"]["outside"].contains("image"));
  EXPECT_THAT(ws.cadenza({"run"}).output, HasSubstr("0 ran, 2 up to date"));
  // A changed image reruns exactly the stage that uses it, and says why.
  ws.write("image/etc/cadenza-test-extra", "1\n");
  EXPECT_THAT(ws.cadenza({"status"}).output, HasSubstr("container image " + image + " changed"));
  auto again = ws.cadenza({"run", "--explain"});
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_THAT(again.output, HasSubstr("[inside] runs: container image " + image + " changed"));
  EXPECT_THAT(again.output, HasSubstr("[outside] up to date"));
  EXPECT_THAT(again.output, HasSubstr("1 ran, 1 up to date"));
}

TEST(ContainerE2E, CharliecloudRefusesABindTheImageCannotTake) {
  REQUIRE_IMAGE();
  Workspace ws("", "");
  const std::string image = own_image(ws);
  ws.write("workflow.toml", "[workflow]\nname = \"c\"\n\n" +
                                container(image, "charliecloud", "binds = [\"/usr/share/doc:/opt/cadenza-no-such-dir\"]") +
                                shell("a", "echo x > {out:o}"));
  auto r = ws.cadenza({"run"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("Charliecloud cannot mount /usr/share/doc at /opt/cadenza-no-such-dir"));
  EXPECT_THAT(r.output, HasSubstr("--mount-point /opt/cadenza-no-such-dir"));
}

// Each stand-in runtime's command line: the binds at the same paths, the GPU
// flag, the image, then the same cadenza exec-stage, told it is inside.
std::vector<std::string> stand_in_run(Workspace& ws, const std::string& runtime, const std::string& image,
                                      int gpus, std::string* output) {
  test::TempDir bin;
  const std::string stand_in = std::string(CADENZA_TEST_SOURCE_DIR) + "/e2e/container_stand_in.sh";
  std::filesystem::create_symlink(stand_in, bin.str() + "/" + runtime);
  ScopedEnv path("PATH", bin.str() + ":" + std::getenv("PATH"));
  ScopedEnv log("STAND_IN_LOG", bin.str() + "/argv");
  ws.write("workflow.toml", "[workflow]\nname = \"c\"\n\n[backends.local]\ngpus = 2\n\n" + container(image, runtime) +
                                shell("a", "echo ran > {out:o}", "resources = { gpus = " + std::to_string(gpus) + " }\n"));
  auto r = ws.cadenza({"run"});
  *output = r.output;
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::vector<std::string> argv;
  std::istringstream in(bin.exists("argv") ? bin.read("argv") : "");
  for (std::string word; std::getline(in, word) && word != "--end--";) argv.push_back(word);
  return argv;
}

std::vector<std::string> inner_command(Workspace& ws) {
  const auto run = std::filesystem::canonical(ws.path() / ".cadenza/runs/latest");
  return {"/usr/bin/env", "CADENZA_IN_CONTAINER=1", CADENZA_BINARY, "exec-stage", (run / "a/spec.json").string()};
}

TEST(ContainerE2E, ApptainerAndSingularityGetTheirCommandLines) {
  for (const std::string runtime : {"apptainer", "singularity"}) {
    Workspace ws("", "");
    const std::string sif = ws.write("images/app.sif", "not really a SIF, but content with a hash");
    std::string output;
    const auto argv = stand_in_run(ws, runtime, "images/app.sif", 1, &output);
    ASSERT_FALSE(argv.empty()) << runtime << ": the stand-in was not called\n" << output;
    EXPECT_EQ(ws.read("out/a"), "ran\n") << runtime;
    std::vector<std::string> expected{"exec", "--nv", "--bind", ws.str() + ":" + ws.str()};
    EXPECT_TRUE(std::equal(expected.begin(), expected.end(), argv.begin() + 1)) << runtime << ": " << testing::PrintToString(argv);
    const auto image_at = std::find(argv.begin(), argv.end(), sif);
    ASSERT_NE(image_at, argv.end()) << testing::PrintToString(argv);
    const auto inner = inner_command(ws);
    EXPECT_TRUE(std::equal(inner.begin(), inner.end(), image_at + 1)) << testing::PrintToString(argv);
    // The host's Cadenza is bound in (cadenza = "host").
    const std::string bin_dir = std::filesystem::path(CADENZA_BINARY).parent_path().string();
    EXPECT_NE(std::find(argv.begin(), argv.end(), bin_dir + ":" + bin_dir), argv.end());
    // An unchanged image is only stat-checked: a no-op reads none of it.
    test::TempDir logs;
    {
      ScopedEnv hash_log("CADENZA_HASH_LOG", logs.str() + "/hashed");
      EXPECT_THAT(ws.cadenza({"run"}).output, HasSubstr("0 ran, 1 up to date"));
      EXPECT_FALSE(logs.exists("hashed")) << logs.read("hashed");
      // Another image file: it is hashed again, the stage runs again, and says why.
      ws.write("images/app.sif", "other bytes");
      EXPECT_THAT(ws.cadenza({"status"}).output, HasSubstr("container image images/app.sif changed"));
      EXPECT_THAT(logs.read("hashed"), HasSubstr(sif));
    }
  }
}

TEST(ContainerE2E, PodmanGetsItsCommandLineAndADigestPinnedReference) {
  Workspace ws("", "");
  const std::string ref = "docker://docker.io/library/debian@sha256:" + std::string(64, 'a');
  std::string output;
  const auto argv = stand_in_run(ws, "podman", ref, 2, &output);
  ASSERT_FALSE(argv.empty()) << output;
  EXPECT_EQ(ws.read("out/a"), "ran\n");
  std::vector<std::string> expected{"run", "--rm", "--device", "nvidia.com/gpu=all", "-v", ws.str() + ":" + ws.str()};
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(), argv.begin() + 1)) << testing::PrintToString(argv);
  EXPECT_NE(std::find(argv.begin(), argv.end(), "docker.io/library/debian@sha256:" + std::string(64, 'a')), argv.end());
  const auto lock = nlohmann::json::parse(ws.read("workflow.lock"));
  EXPECT_EQ(lock["stages"]["a"]["image"]["id"], "oci:sha256:" + std::string(64, 'a'));
}

// Inside the container, exec-stage refuses a job that another Cadenza
// planned or whose plugin the image lacks, before the stage starts; a
// directory image without the Cadenza binary is refused before the runtime.
TEST(ContainerE2E, AnImageThatCannotRunTheJobIsRefusedBeforeTheStageStarts) {
  Workspace ws("", "");
  ws.write("images/app.sif", "bytes");
  std::string output;
  ASSERT_FALSE(stand_in_run(ws, "apptainer", "images/app.sif", 0, &output).empty()) << output;
  const std::string spec_path = inner_command(ws).back();
  auto spec = nlohmann::json::parse(read_file(spec_path));
  const auto inner = [&](const nlohmann::json& changed) {
    write_file_atomic(spec_path, changed.dump());
    ScopedEnv in("CADENZA_IN_CONTAINER", "1");
    auto r = test::run_cadenza(ws.str(), {"exec-stage", spec_path});
    EXPECT_EQ(r.exit_code, 1) << r.output;
    return nlohmann::json::parse(read_file(std::filesystem::path(spec_path).parent_path() / "result.json"))["error"]
        .get<std::string>();
  };
  auto older = spec;
  older["cadenza_version"] = "0.0.9";
  EXPECT_THAT(inner(older), HasSubstr("the Cadenza in this container is 0.1.0, but Cadenza 0.0.9 planned the job"));
  auto no_plugin = spec;
  no_plugin["plugin"]["path"] = "/opt/cadenza/lib/cadenza/plugins/cadenza-stage_nothere.so";
  EXPECT_THAT(inner(no_plugin), HasSubstr("the container has no plugin /opt/cadenza/lib/cadenza/plugins/cadenza-stage_nothere.so"));
  // cadenza = "image" with a directory image that has no Cadenza in it.
  test::TempDir image;
  image.write("etc/os-release", "empty image\n");
  ws.write("workflow.toml", "[workflow]\nname = \"c\"\n\n[container]\nimage = \"" + image.str() +
                                "\"\nruntime = \"charliecloud\"\n\n" + shell("b", "true"));
  test::TempDir bin;
  std::filesystem::create_symlink(std::string(CADENZA_TEST_SOURCE_DIR) + "/e2e/container_stand_in.sh", bin.str() + "/ch-run");
  ScopedEnv path("PATH", bin.str() + ":" + std::getenv("PATH"));
  auto r = ws.cadenza({"run"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("has no Cadenza at " + std::string(CADENZA_BINARY)));
  EXPECT_THAT(r.output, HasSubstr("set container.cadenza = \"host\""));
}

TEST(ContainerE2E, BadContainerInputIsRefusedWithTheFix) {
  Workspace ws("", "");
  const auto refused = [&](const std::string& workflow) {
    ws.write("workflow.toml", "[workflow]\nname = \"c\"\n\n" + workflow);
    auto r = ws.cadenza({"run"});
    EXPECT_NE(r.exit_code, 0) << r.output;
    return r.output;
  };
  EXPECT_THAT(refused(container("nope.sif", "apptainer") + shell("a", "true")),
              HasSubstr("workflow.toml:4:1: stage 'a': container image 'nope.sif' does not exist"));
  EXPECT_THAT(refused(container("x.sif", "docker") + shell("a", "true")),
              HasSubstr("workflow.toml:6:11: [container].runtime 'docker' is not one Cadenza knows (apptainer, singularity, charliecloud, podman)"));
  EXPECT_THAT(refused(container("docker://debian:latest", "podman") + shell("a", "true")),
              HasSubstr("'docker://debian:latest' is a tag, which can move without Cadenza seeing it: pin its digest"));
  EXPECT_THAT(refused(shell("a", "true", "container = { runtime = \"podman\" }\n")),
              HasSubstr("[stages.a].container has no image"));
  EXPECT_FALSE(ws.exists("out/a"));
  // Only the node can tell that its runtime is missing: the stage fails with the fix.
  ws.write("images/app.sif", "bytes");
  ScopedEnv path("PATH", "/usr/bin:/bin");  // no apptainer here
  const std::string missing = refused(container("images/app.sif", "apptainer") + shell("a", "true"));
  EXPECT_THAT(missing, HasSubstr("container runtime apptainer (`apptainer`) is not installed on"));
  EXPECT_THAT(missing, HasSubstr("module load apptainer"));
}

}  // namespace
}  // namespace cadenza
