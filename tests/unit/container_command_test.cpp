// The container runtimes' command lines, without a runtime (the e2e tests run
// Charliecloud for real and the others through a stand-in).
#include <gmock/gmock.h>

#include "container_command.h"
#include "error.h"
#include "test_util.h"

namespace cadenza {
namespace {

using ::testing::ElementsAre;

JobSpec spec_with(const std::string& runtime, const std::string& cadenza = "image") {
  JobSpec s;
  s.workspace = "/work/ws";
  s.cache_dir = "/scratch/cache";
  s.run_dir = "/work/ws/.cadenza/runs/r1/a";
  s.scratch_dir = "/work/ws/.cadenza/scratch/a";
  s.plugin_path = "/opt/cadenza/lib/cadenza/plugins/cadenza-stage_x.so";
  s.container = ContainerSpec{runtime, "/img/app.sif", false, {"/data/in:/in"}, {"--contain"}, cadenza, 0};
  return s;
}

TEST(ContainerCommand, BindsCoverWhatTheSpecNamesOnceEach) {
  const auto binds = container_binds(spec_with("apptainer", "host"), "/opt/cadenza/bin/cadenza");
  std::vector<std::string> words;
  for (const auto& b : binds) words.push_back(b.src + ":" + b.dst);
  // The run and scratch dirs lie in the workspace, already visible.
  EXPECT_THAT(words, ElementsAre("/work/ws:/work/ws", "/scratch/cache:/scratch/cache",
                                 "/opt/cadenza/bin:/opt/cadenza/bin",
                                 "/opt/cadenza/lib/cadenza/plugins:/opt/cadenza/lib/cadenza/plugins", "/data/in:/in"));
  auto bad = spec_with("apptainer");
  bad.container->binds = {"relative/path"};
  EXPECT_THAT(test::error_of([&] { container_binds(bad, "/c"); }), ::testing::HasSubstr("must be \"/host/path\""));
}

TEST(ContainerCommand, EachRuntimeGetsItsOwnWords) {
  auto s = spec_with("apptainer");
  s.container->gpus = 1;
  const std::vector<Bind> binds{{"/work/ws", "/work/ws"}, {"/tmp/x", "/tmp/x"}};
  const std::vector<std::string> inner{"/usr/bin/env", "CADENZA_IN_CONTAINER=1", "/c", "exec-stage", "/s.json"};
  EXPECT_THAT(container_argv(*s.container, binds, inner),
              ElementsAre("apptainer", "exec", "--nv", "--bind", "/work/ws:/work/ws", "--bind", "/tmp/x:/tmp/x",
                          "--contain", "/img/app.sif", "/usr/bin/env", "CADENZA_IN_CONTAINER=1", "/c", "exec-stage",
                          "/s.json"));
  s.container->runtime = "charliecloud";  // host /tmp is visible in its containers: no bind for it
  EXPECT_THAT(container_argv(*s.container, binds, {"/c"}),
              ElementsAre("ch-run", "-b", "/work/ws:/work/ws", "--contain", "/img/app.sif", "--", "/c"));
  s.container->runtime = "podman";
  s.container->image = "docker://docker.io/x@sha256:" + std::string(64, '0');
  s.container->image_is_reference = true;
  EXPECT_THAT(container_argv(*s.container, {binds[0]}, {"/c"}),
              ElementsAre("podman", "run", "--rm", "--device", "nvidia.com/gpu=all", "-v", "/work/ws:/work/ws",
                          "--contain", "docker.io/x@sha256:" + std::string(64, '0'), "/c"));
  s.container->image = "/img/rootfs";
  s.container->image_is_reference = false;
  s.container->gpus = 0;
  EXPECT_THAT(container_argv(*s.container, {}, {"/c"}), ElementsAre("podman", "run", "--rm", "--contain", "--rootfs", "/img/rootfs", "/c"));
}

TEST(ContainerCommand, CharliecloudNeedsTheMountPointInTheImage) {
  test::TempDir image;
  image.write("work/ws/.keep", "");
  ContainerSpec c{"charliecloud", image.str(), false, {}, {}, "image", 0};
  EXPECT_EQ(check_binds(c, {{"/work/ws", "/work/ws"}, {"/tmp/anything", "/tmp/anything"}}), "");
  EXPECT_THAT(check_binds(c, {{"/scratch/cache", "/scratch/cache"}}),
              ::testing::HasSubstr("--mount-point /scratch/cache"));
  c.runtime = "apptainer";  // it makes mount points itself
  EXPECT_EQ(check_binds(c, {{"/scratch/cache", "/scratch/cache"}}), "");
}

}  // namespace
}  // namespace cadenza
