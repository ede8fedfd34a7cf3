#include "cadenza/sdk/units.h"
#include "workflow_parser.h"

#include <gmock/gmock.h>

#include "test_util.h"

namespace cadenza {
namespace {

using test::error_of;
using ::testing::HasSubstr;

const char* kGood = R"(
[workflow]
name = "demo"
backend = "local"
sinks = ["tensorboard"]

[params]
sample_rate = 48000

[backends.local]
max_jobs = 2

[stages.prep]
plugin = "preprocess"
deps = { input = "data/in.wav" }
outs = { dataset = "build/./dataset" }
params = { sample_rate = "${sample_rate}", ratio = 0.2 }
resources = { cpus = 2, mem = "1.5G", time = "01:30:00" }

[stages.train]
plugin = "stage_train"
deps = ["build/dataset"]
outs = { model = "build/model" }
backend = "slurm"
sinks = []
)";

TEST(WorkflowParser, ParsesAFullWorkflow) {
  Workflow wf = parse_workflow_text(kGood, "/tmp/ws/workflow.toml");
  EXPECT_EQ(wf.name, "demo");
  EXPECT_EQ(wf.experiment, "demo");
  EXPECT_EQ(wf.workspace, "/tmp/ws");
  EXPECT_EQ(wf.backend, "backend_local");
  EXPECT_EQ(wf.sinks, std::vector<std::string>{"sink_tensorboard"});
  EXPECT_EQ(wf.backend_configs.at("backend_local")["max_jobs"], 2);
  EXPECT_EQ(wf.cache_dir, "/tmp/ws/.cadenza/cache");
  ASSERT_EQ(wf.stages.size(), 2u);
  const StageDecl& prep = wf.stages[0];  // file order, not alphabetical
  EXPECT_EQ(prep.name, "prep");
  EXPECT_EQ(prep.plugin, "stage_preprocess");
  EXPECT_EQ(prep.deps.at("input").path, "data/in.wav");
  EXPECT_EQ(prep.outs.at("dataset").path, "build/dataset");
  EXPECT_EQ(prep.params.at("sample_rate").value, "${sample_rate}");
  EXPECT_EQ(prep.params.at("ratio").pos.line, 17);
  EXPECT_EQ(prep.resources.cpus, 2);
  EXPECT_EQ(prep.resources.mem_bytes, static_cast<uint64_t>(1.5 * 1024 * 1024 * 1024));
  EXPECT_EQ(prep.resources.time_limit_s, 5400);
  const StageDecl& train = wf.stages[1];
  EXPECT_EQ(train.deps.at("0").path, "build/dataset");
  EXPECT_EQ(wf.backend_for(train), "backend_slurm");
  EXPECT_TRUE(wf.sinks_for(train).empty());
  EXPECT_EQ(wf.sinks_for(prep), wf.sinks);
}

TEST(WorkflowParser, TomlSyntaxErrorNamesLineAndColumn) {
  const std::string msg = error_of([] {
    parse_workflow_text("[stages.a]\nplugin = \"x\"\nouts = { o = \"o\" \n", "wf.toml");
  });
  EXPECT_THAT(msg, HasSubstr("wf.toml:3:"));
  EXPECT_THAT(msg, HasSubstr("invalid TOML"));
}

TEST(WorkflowParser, UnknownKeyInStageIsAnErrorWithPosition) {
  const std::string msg = error_of([] {
    parse_workflow_text("[stages.a]\nplugin = \"x\"\nouts = { o = \"o\" }\ndep = [\"x\"]\n",
                        "wf.toml");
  });
  EXPECT_THAT(msg, HasSubstr("wf.toml:4:1: unknown key 'dep' in [stages.a]"));
  EXPECT_THAT(msg, HasSubstr("deps"));
}

TEST(WorkflowParser, UnknownTopLevelTable) {
  EXPECT_THAT(error_of([] { parse_workflow_text("[stage.a]\nplugin = \"x\"\n", "wf.toml"); }),
              HasSubstr("unknown key 'stage' in the top level"));
}

TEST(WorkflowParser, StageWithoutPlugin) {
  EXPECT_THAT(error_of([] { parse_workflow_text("[stages.a]\nouts = { o = \"o\" }\n", "w.toml"); }),
              HasSubstr("w.toml:1:1: stage 'a' has no plugin"));
}

TEST(WorkflowParser, StageWithoutOuts) {
  EXPECT_THAT(error_of([] { parse_workflow_text("[stages.a]\nplugin = \"x\"\n", "w.toml"); }),
              HasSubstr("stage 'a' declares no outs"));
}

TEST(WorkflowParser, NoStages) {
  EXPECT_THAT(error_of([] { parse_workflow_text("[workflow]\nname = \"x\"\n", "w.toml"); }),
              HasSubstr("declares no stages"));
}

TEST(WorkflowParser, PathsMustStayInsideTheWorkspace) {
  for (const char* bad : {"../x", "/etc/passwd", "a/../../b", ".", ".cadenza/cache"}) {
    const std::string text = std::string("[stages.a]\nplugin = \"x\"\nouts = { o = \"") + bad + "\" }\n";
    EXPECT_THAT(error_of([&] { parse_workflow_text(text, "w.toml"); }),
                HasSubstr("w.toml:3:14: stage 'a' outs.o '" + std::string(bad) +
                          "' must be a relative path inside the workspace"))
        << bad;
  }
}

TEST(WorkflowParser, WrongTypes) {
  EXPECT_THAT(error_of([] { parse_workflow_text("[stages.a]\nplugin = 3\nouts = { o = \"o\" }\n", "w.toml"); }),
              HasSubstr("w.toml:2:10: [stages.a].plugin must be a string, not an integer"));
  EXPECT_THAT(error_of([] {
                parse_workflow_text("[stages.a]\nplugin = \"x\"\nouts = { o = \"o\" }\nresources = { cpus = 0 }\n", "w.toml");
              }),
              HasSubstr("w.toml:4:22: stage 'a' resources.cpus must be an integer from 1 to 65536"));
  EXPECT_THAT(error_of([] {
                parse_workflow_text("[stages.a]\nplugin = \"x\"\nouts = { o = \"o\" }\nresources = { mem = \"lots\" }\n", "w.toml");
              }),
              HasSubstr("resources.mem must be a size"));
  EXPECT_THAT(error_of([] {
                parse_workflow_text("[stages.a]\nplugin = \"x\"\nouts = { o = \"o\" }\nresources = { time = \"soon\" }\n", "w.toml");
              }),
              HasSubstr("resources.time must be a duration"));
  EXPECT_THAT(error_of([] {
                parse_workflow_text("[workflow]\ncache_link = \"symlink\"\n[stages.a]\nplugin = \"x\"\nouts = { o = \"o\" }\n", "w.toml");
              }),
              HasSubstr("w.toml:2:14: workflow.cache_link must be one of auto, reflink, hardlink, copy"));
}

// Sizes and durations: one parser for the engine and the backends
// (sdk/units.h); nothing that overflows or is not a number means "no limit".
TEST(WorkflowParser, ResourceValuesAreRangeChecked) {
  auto resources = [](const std::string& table) {
    return parse_workflow_text("[stages.a]\nplugin = \"x\"\nouts = { o = \"o\" }\nresources = " + table + "\n",
                               "w.toml").stages[0].resources;
  };
  EXPECT_EQ(resources("{ mem = \"1GB\" }").mem_bytes, 1ull << 30);
  EXPECT_EQ(resources("{ mem = \"1.5GiB\" }").mem_bytes, 3ull << 29);
  EXPECT_EQ(resources("{ mem = \"512m\" }").mem_bytes, 512ull << 20);
  EXPECT_EQ(resources("{ time = \"1:30:00\" }").time_limit_s, 5400);
  EXPECT_EQ(resources("{ time = \"1.5h\" }").time_limit_s, 5400);
  for (const char* bad : {"{ cpus = 2147483648 }", "{ gpus = 100000 }", "{ mem = \"1e30G\" }",
                          "{ mem = \"99999999999T\" }", "{ mem = \"nan\" }", "{ mem = -1 }",
                          "{ time = \"1e300d\" }", "{ time = \"nan\" }", "{ time = \"inf\" }",
                          "{ time = \"99999999999999999:00:00\" }", "{ time = \"1:2:3:4\" }",
                          "{ time = \"-5s\" }"})
    EXPECT_THAT(error_of([&] { resources(bad); }), HasSubstr("w.toml:4:")) << bad;
  EXPECT_EQ(sdk::parse_bytes("16G"), 16ull << 30);
  EXPECT_FALSE(sdk::parse_bytes("16 G"));
  EXPECT_FALSE(sdk::parse_seconds("90x"));
  EXPECT_EQ(*sdk::parse_duration("0.5s"), 0.5);  // fractions kept (sync --every)
  EXPECT_EQ(*sdk::parse_duration("1.5h"), 5400.0);
  EXPECT_EQ(*sdk::parse_seconds("0.5s"), 1);  // whole seconds round up
  EXPECT_FALSE(sdk::parse_duration("1 minute"));
}

TEST(WorkflowParser, BadStageName) {
  EXPECT_THAT(error_of([] { parse_workflow_text("[stages.\"a b\"]\nplugin = \"x\"\nouts = { o = \"o\" }\n", "w.toml"); }),
              HasSubstr("stage name 'a b' may use only"));
}

TEST(WorkflowParser, MissingFile) {
  EXPECT_THAT(error_of([] { parse_workflow_file("/nonexistent/workflow.toml"); }),
              HasSubstr("/nonexistent/workflow.toml: no workflow file here"));
}

TEST(WorkflowParser, Durations) {
  auto d = [](nlohmann::json v) { return parse_duration_s(ValueAt{v, {}}, "t"); };
  EXPECT_EQ(d(90), 90);
  EXPECT_EQ(d("90s"), 90);
  EXPECT_EQ(d("30m"), 1800);
  EXPECT_EQ(d("2h"), 7200);
  EXPECT_EQ(d("1d"), 86400);
  EXPECT_EQ(d("1:02:03"), 3723);
  auto m = [](nlohmann::json v) { return parse_memory_size(ValueAt{v, {}}, "m"); };
  EXPECT_EQ(m(1000), 1000u);
  EXPECT_EQ(m("512M"), 512u << 20);
  EXPECT_EQ(m("2GiB"), 2ull << 30);
  EXPECT_EQ(m("16g"), 16ull << 30);
}

TEST(WorkflowParser, FullPluginNames) {
  EXPECT_EQ(full_plugin_name("backend", "local"), "backend_local");
  EXPECT_EQ(full_plugin_name("backend", "backend_local"), "backend_local");
  EXPECT_EQ(full_plugin_name("stage", "train_lstm"), "stage_train_lstm");
}

}  // namespace
}  // namespace cadenza

namespace cadenza {
namespace {

// Hostile files are refused before the parser recurses into them, and the
// inputs that crash toml++ 3.3.0 (an assert, undefined behaviour) are errors.
TEST(WorkflowParser, NestingSizeAndEncodingAreBounded) {
  std::string deep = "[params";
  for (int k = 0; k < 60000; ++k) deep += ".k";
  deep += "]\nx = 1\n";
  EXPECT_THAT(test::error_of([&] { parse_workflow_text(deep, "/tmp/ws/workflow.toml"); }),
              HasSubstr("workflow.toml:1:"));
  EXPECT_THAT(test::error_of([&] { parse_workflow_text(deep, "/tmp/ws/workflow.toml"); }),
              HasSubstr("deeper than 64 levels"));
  std::string inline_deep = "[params]\nx = ";
  for (int k = 0; k < 10000; ++k) inline_deep += "{a = ";
  EXPECT_THAT(test::error_of([&] { parse_workflow_text(inline_deep, "/tmp/ws/workflow.toml"); }),
              HasSubstr("workflow.toml:2:"));
  std::string arrays = "[params]\nx = " + std::string(100000, '[');
  EXPECT_THAT(test::error_of([&] { parse_workflow_text(arrays, "/tmp/ws/workflow.toml"); }),
              HasSubstr("deeper than 64"));
  // Dots and brackets inside strings and comments are not nesting.
  EXPECT_NO_THROW(parse_workflow_text("# a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p."
                                      "q.r.s.t.u.v.w.x.y.z.a.b.c.d.e.f.g.h.i.j.k.l [[[[\n" +
                                          std::string("[stages.a]\nplugin = \"x\"\nouts = { o = \"o\" }\ndescription = \"") +
                                          std::string(200, '.') + "[[[[{{{{\"\n",
                                      "/tmp/ws/workflow.toml"));
  EXPECT_THAT(test::error_of([] { parse_workflow_text(std::string(9u << 20, ' '), "/tmp/ws/workflow.toml"); }),
              HasSubstr("9 MB is too large for a workflow file (at most 8 MB)"));
  EXPECT_THAT(test::error_of([] { parse_workflow_text("[a]\nx = \"\xff\"\n", "/tmp/ws/workflow.toml"); }),
              HasSubstr("workflow.toml:2:6: the file is not valid UTF-8 here"));
  EXPECT_THAT(test::error_of([] { parse_workflow_text(std::string("[a]\nx = 1\0", 10), "/tmp/ws/workflow.toml"); }),
              HasSubstr("a NUL byte"));
  // An empty stage name, a NUL in a path.
  EXPECT_THAT(test::error_of([] {
                parse_workflow_text("[stages.\"\"]\nplugin = \"x\"\nouts = { o = \"o\" }\n", "/tmp/ws/workflow.toml");
              }),
              HasSubstr("workflow.toml:1:1: a stage needs a name"));
  EXPECT_THAT(test::error_of([] {
                parse_workflow_text("[stages.a]\nplugin = \"x\"\nouts = { o = \"o\\u0000x\" }\n", "/tmp/ws/workflow.toml");
              }),
              HasSubstr("contains a NUL byte"));
  // toml++ 3.3.0: an assert on "[.b]", undefined behaviour on "[a]" + EF B6 BF.
  EXPECT_THAT(test::error_of([] { parse_workflow_text("[.b]\n", "/tmp/ws/workflow.toml"); }),
              HasSubstr("workflow.toml:1:2: invalid TOML"));
  // The second is refused before toml++ sees it (found again by tests/fuzz
  // with UBSan, also after a newline); inside strings it is just a character.
  EXPECT_THAT(test::error_of([] { parse_workflow_text("[a]\xef\xb6\xbf", "/tmp/ws/workflow.toml"); }),
              HasSubstr("workflow.toml:1:4: a non-ASCII character outside a quoted string or comment"));
  EXPECT_THAT(test::error_of([] { parse_workflow_text("[a]\n\xef\xb6\xbf", "/tmp/ws/workflow.toml"); }),
              HasSubstr("workflow.toml:2:1: a non-ASCII character outside"));
  EXPECT_EQ(parse_workflow_text("[workflow]\nname = \"\xef\xb6\xbf\" # \xef\xb6\xbf\n"
                                "[stages.a]\nplugin = \"x\"\nouts = { o = \"o\" }\n",
                                "/tmp/ws/workflow.toml")
                .name,
            "\xef\xb6\xbf");
}

}  // namespace
}  // namespace cadenza
