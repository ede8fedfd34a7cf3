#include "overrides.h"

#include <gmock/gmock.h>

#include "experiment_workflow.h"
#include "test_util.h"
#include "tracked_params.h"
#include "workflow_parser.h"

namespace cadenza {
namespace {

using nlohmann::json;
using test::error_of;
using ::testing::HasSubstr;

const char* kScriptWorkflow = R"([params]
sr = 44100
unused = 1

[stages.train]
plugin = "stage_shell"
outs = { model = "models/model.pt" }
params = { cmd = "python3 train.py --sr ${sr}", hidden = 16 }
params_files = { "params.yaml" = ["train.lr", "model"] }
)";

Workflow parsed(const test::TempDir& dir) {
  dir.write("params.yaml", "train:\n  lr: 0.01  # step\n  epochs: 3\nmodel:\n  depth: 2\n");
  return parse_workflow_file(dir.write("workflow.toml", kScriptWorkflow));
}

Variant set(const std::string& arg) { return {parse_set(arg)}; }

TEST(Overrides, AnOverrideThatChangesNothingIsRefused) {
  test::TempDir dir;
  Workflow wf = parsed(dir);
  EXPECT_THAT(error_of([&] { apply_overrides(wf, set("params.unused=2")); }),
              HasSubstr("--set params.unused=2: no stage uses [params].unused (as \"${unused}\" in its params), so "
                        "this would change nothing"));
  EXPECT_THAT(error_of([&] { apply_overrides(wf, set("params.yaml:train.epochs=5")); }),
              HasSubstr("no stage tracks key 'train.epochs' of params.yaml, so this would change nothing (tracked "
                        "keys of params.yaml: train: train.lr, train: model)"));
  EXPECT_THAT(error_of([&] { apply_overrides(wf, set("other.yaml:x=5")); }), HasSubstr("no stage tracks key 'x' of other.yaml"));
  apply_overrides(wf, set("params.sr=48000"));  // used inside cmd's string
  EXPECT_EQ(wf.shared_params.at("sr").value, 48000);
}

TEST(Overrides, AParamsFileKeyIsEditedInTheExperimentsCopy) {
  test::TempDir dir;
  Workflow wf = parsed(dir);
  apply_overrides(wf, set("params.yaml:train.lr=0.5"));
  apply_overrides(wf, set("params.yaml:model.depth=4"));  // under a tracked section
  TrackedParams tracked(wf);
  EXPECT_EQ(tracked.file("params.yaml").text(), "train:\n  lr: 0.5  # step\n  epochs: 3\nmodel:\n  depth: 4\n");
  EXPECT_EQ(tracked.values_for(wf.stages[0]),
            json::parse(R"({"params.yaml:train.lr": 0.5, "params.yaml:model": {"depth": 4}})"));
  EXPECT_EQ(dir.read("params.yaml"), "train:\n  lr: 0.01  # step\n  epochs: 3\nmodel:\n  depth: 2\n");  // untouched
}

TEST(Overrides, ATrackedKeyTheFileLacksNamesTheStageEntry) {
  test::TempDir dir;
  Workflow wf = parsed(dir);
  dir.write("params.yaml", "train:\n  epochs: 3\nmodel: {}\n");
  TrackedParams tracked(wf);
  EXPECT_THAT(error_of([&] { tracked.values_for(wf.stages[0]); }),
              HasSubstr("workflow.toml:9:34: stage 'train' tracks key 'train.lr' of params.yaml, which it does not "
                        "have: params.yaml: no key 'train.lr' ('train' has: epochs)"));
}

TEST(Overrides, ExperimentNamesAreReadableAndSafeInPaths) {
  EXPECT_EQ(variant_name({parse_set("train.lr=0.01"), parse_set("train.hidden=32")}), "lr-0.01+hidden-32");
  EXPECT_EQ(variant_name({parse_set("params.yaml:train.learning_rate=0.001")}), "learning_rate-0.001");
  EXPECT_EQ(variant_name({parse_set("a.lr=1"), parse_set("b.lr=2")}), "a.lr-1+b.lr-2");
  EXPECT_EQ(variant_name({parse_set("train.name=a b/c,d=e")}), "name-a_b_c_d_e");
  const std::string name = variant_name({parse_set("train.cmd=" + std::string(300, 'x'))});
  EXPECT_LE(name.size(), 120u);
  check_experiment_name(name);
  for (char c : name) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || std::string("._+-").find(c) != std::string::npos);
}

// A sweep file's variant that replaces a whole command is named by its
// `name`, not by 300 characters of command.
TEST(Overrides, NamedSweepVariantsNameTheirExperiments) {
  test::TempDir dir;
  const std::string path = dir.write("sweep.toml",
                                     "[grid]\n\"train.seed\" = [1, 2]\n"
                                     "[[variant]]\nname = \"small\"\n\"train.cmd\" = \"" + std::string(200, 'x') + "\"\n"
                                     "[[variant]]\n\"train.hidden\" = 64\n");
  const SweepSpec spec = load_sweep_file(path);
  EXPECT_EQ(expanded_names(spec), (std::vector<std::string>{"small+seed-1", "seed-1+hidden-64", "small+seed-2",
                                                            "seed-2+hidden-64"}));
  EXPECT_EQ(expand(spec)[0].back().target, "train.cmd");
  dir.write("bad.toml", "[[variant]]\nname = \"a b\"\n\"train.x\" = 1\n");
  EXPECT_THAT(error_of([&] { load_sweep_file(dir.str() + "/bad.toml"); }),
              HasSubstr("bad.toml:2: variant name 'a b' may use only letters, digits and . _ -"));
}

TEST(Overrides, FileTargetsParse) {
  const Override o = parse_set("params.yaml:train.lr=0.001");
  EXPECT_EQ(o.target, "params.yaml:train.lr");
  EXPECT_EQ(o.value, 0.001);
  EXPECT_THAT(error_of([] { parse_set("lr=3"); }), HasSubstr("<params file>:<key>=<value>"));
}

TEST(WorkflowParserParams, AStageNamedParamsIsRefusedWhereItIsDefined) {
  EXPECT_THAT(error_of([] {
                parse_workflow_text("[stages.params]\nplugin = \"shell\"\nouts = { o = \"o\" }\n", "w.toml");
              }),
              HasSubstr("w.toml:1:1: a stage may not be named 'params'"));
}

TEST(WorkflowParserParams, ParamsFilesAreCheckedWhereTheyAreWritten) {
  auto parse = [](const std::string& entry) {
    parse_workflow_text("[stages.s]\nplugin = \"shell\"\nouts = { o = \"o\" }\nparams_files = " + entry + "\n", "w.toml");
  };
  EXPECT_THAT(error_of([&] { parse("{ \"params.ini\" = [\"a\"] }"); }), HasSubstr("name a .yaml, .yml, .json or .toml file"));
  EXPECT_THAT(error_of([&] { parse("{ \"../p.yaml\" = [\"a\"] }"); }), HasSubstr("must be a relative path inside the workspace"));
  EXPECT_THAT(error_of([&] { parse("{ \"p.yaml\" = [\"a..b\"] }"); }), HasSubstr("'a..b' is not a key"));
  EXPECT_THAT(error_of([&] { parse("{ \"p.yaml\" = \"a\" }"); }), HasSubstr("w.toml:4"));
}

}  // namespace
}  // namespace cadenza
