// dvc.yaml read and expanded for `cadenza import dvc`: each construct of
// DVC 3's pipeline syntax, and each error with its dvc.yaml:line:col.
#include "dvc_pipeline.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "error.h"
#include "test_util.h"

namespace cadenza {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

DvcPipeline read(test::TempDir& dir, const std::string& dvc_yaml) {
  dir.write("dvc.yaml", dvc_yaml);
  return read_dvc_pipeline(dir.str() + "/dvc.yaml");
}

std::string error_of(test::TempDir& dir, const std::string& dvc_yaml) {
  try {
    read(dir, dvc_yaml);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(DvcPipeline, AStageWithEveryPlainField) {
  test::TempDir dir;
  auto p = read(dir,
                "stages:\n"
                "  train:\n"
                "    desc: Train the model\n"
                "    cmd:\n"
                "      - python3 src/train.py\n"
                "      - echo done\n"
                "    deps: [src/train.py, data/prepared]\n"
                "    params:\n"
                "      - train.lr\n"
                "      - custom.yaml: [model.hidden]\n"
                "      - whole.yaml:\n"
                "    outs:\n"
                "      - models/model.pt\n"
                "      - logs: {cache: false, persist: true, desc: tb}\n"
                "    metrics: [{metrics.json: {cache: false}}]\n"
                "    plots: [dvclive/plots]\n");
  ASSERT_EQ(p.stages.size(), 1u);
  const DvcStage& s = p.stages[0];
  EXPECT_EQ(s.name, "train");
  EXPECT_EQ(s.line, 3);
  EXPECT_EQ(s.cmd, "python3 src/train.py && echo done");
  EXPECT_EQ(s.desc, "Train the model");
  EXPECT_THAT(s.deps, ElementsAre("src/train.py", "data/prepared"));
  EXPECT_THAT(s.params.at("params.yaml"), ElementsAre("train.lr"));
  EXPECT_THAT(s.params.at("custom.yaml"), ElementsAre("model.hidden"));
  EXPECT_TRUE(s.params.at("whole.yaml").empty());
  ASSERT_EQ(s.outs.size(), 4u);  // metrics and plots files are outs, as in DVC
  EXPECT_EQ(s.outs[2].path, "metrics.json");
  EXPECT_FALSE(s.outs[1].cache);
  EXPECT_TRUE(s.outs[1].persist);
  EXPECT_THAT(s.metrics, ElementsAre("metrics.json"));
  EXPECT_THAT(s.plots, ElementsAre("dvclive/plots"));
  ASSERT_EQ(p.not_carried.size(), 2u);  // cache: false and persist: true, each with its line
  EXPECT_THAT(p.not_carried[0].text, HasSubstr("cache: false"));
  EXPECT_EQ(p.not_carried[0].line, 14);  // the entry's own line
}

TEST(DvcPipeline, VarsFromParamsFilesAndInlineAndTypedTemplating) {
  test::TempDir dir;
  dir.write("params.yaml", "train:\n  lr: 0.01\n  epochs: 3\n");
  dir.write("config.json", R"({"model": {"name": "lstm"}, "other": 1})");
  auto p = read(dir,
                "vars:\n"
                "  - config.json:model\n"
                "  - sizes: [8, 16]\n"
                "    out_dir: models\n"
                "stages:\n"
                "  train:\n"
                "    cmd: python3 train.py --lr ${train.lr} --epochs ${ train.epochs } --arch ${model.name} "
                "--first ${sizes[0]} \\${literal}\n"
                "    outs: [\"${out_dir}/${model.name}.pt\"]\n");
  ASSERT_EQ(p.stages.size(), 1u);
  EXPECT_EQ(p.stages[0].cmd, "python3 train.py --lr 0.01 --epochs 3 --arch lstm --first 8 \\${literal}");
  EXPECT_EQ(p.stages[0].outs[0].path, "models/lstm.pt");
}

TEST(DvcPipeline, ForeachOverAListADictAndAVarAndMatrix) {
  test::TempDir dir;
  auto p = read(dir,
                "vars:\n"
                "  - names: [a, b]\n"
                "stages:\n"
                "  report:\n"
                "    foreach: ${names}\n"
                "    do:\n"
                "      cmd: report ${item}\n"
                "      outs:\n"
                "        - reports/${item}.txt\n"
                "  prep:\n"
                "    foreach:\n"
                "      us: {rate: 44100}\n"
                "      eu: {rate: 48000}\n"
                "    do:\n"
                "      cmd: prep ${key} ${item.rate}\n"
                "  train:\n"
                "    matrix:\n"
                "      lr: [0.01, 0.1]\n"
                "      model: [cnn, lstm]\n"
                "    cmd: train ${item.lr} ${item.model}\n");
  std::vector<std::string> names, cmds;
  for (const auto& s : p.stages) {
    names.push_back(s.name);
    cmds.push_back(s.cmd);
  }
  EXPECT_THAT(names, ElementsAre("report@a", "report@b", "prep@us", "prep@eu", "train@0.01-cnn", "train@0.01-lstm",
                                 "train@0.1-cnn", "train@0.1-lstm"));
  EXPECT_EQ(cmds[1], "report b");
  EXPECT_EQ(p.stages[1].outs[0].path, "reports/b.txt");
  EXPECT_EQ(cmds[3], "prep eu 48000");
  EXPECT_EQ(cmds[6], "train 0.1 cnn");
}

TEST(DvcPipeline, WdirMakesPathsRelativeToTheProject) {
  test::TempDir dir;
  auto p = read(dir,
                "stages:\n"
                "  eval:\n"
                "    wdir: eval\n"
                "    cmd: python3 evaluate.py\n"
                "    deps: [evaluate.py, ../models/model.pt]\n"
                "    params: [eval.threshold]\n"
                "    outs: [scores.json]\n");
  const DvcStage& s = p.stages[0];
  EXPECT_EQ(s.wdir, "eval");
  EXPECT_THAT(s.deps, ElementsAre("eval/evaluate.py", "models/model.pt"));
  EXPECT_EQ(s.outs[0].path, "eval/scores.json");
  EXPECT_THAT(s.params.at("eval/params.yaml"), ElementsAre("eval.threshold"));
}

TEST(DvcPipeline, FrozenAlwaysChangedAndTopLevelPlotsAreNotedNotDropped) {
  test::TempDir dir;
  auto p = read(dir,
                "stages:\n"
                "  a:\n"
                "    cmd: x\n"
                "    frozen: true\n"
                "    always_changed: true\n"
                "plots:\n"
                "  - loss.csv\n");
  ASSERT_EQ(p.not_carried.size(), 3u);
  EXPECT_EQ(p.not_carried[0].line, 6);
  EXPECT_THAT(p.not_carried[0].text, HasSubstr("top-level plots"));
  EXPECT_THAT(p.not_carried[1].text, HasSubstr("frozen"));
  EXPECT_EQ(p.not_carried[1].line, 4);
  EXPECT_THAT(p.not_carried[2].text, HasSubstr("always_changed"));
}

TEST(DvcPipeline, EachErrorNamesTheLineAndColumn) {
  test::TempDir dir;
  EXPECT_THAT(error_of(dir, "stages:\n  a:\n    cmd: [x\n"), HasSubstr("dvc.yaml:4:1: not valid YAML"));
  EXPECT_THAT(error_of(dir, "stages:\n  a:\n    cmd: x\n    outz: [y]\n"),
              HasSubstr("dvc.yaml:4:5: stage 'a': unknown key 'outz'"));
  EXPECT_THAT(error_of(dir, "stages:\n  a:\n    foreach: ${nope}\n    do:\n      cmd: x\n"),
              HasSubstr("dvc.yaml:3:14: ${nope} is not defined"));
  EXPECT_THAT(error_of(dir, "stages:\n  a:\n    deps: [x]\n"), HasSubstr("dvc.yaml:3:5: stage 'a' has no cmd"));
  EXPECT_THAT(error_of(dir, "stages:\n  a:\n    cmd: x\n    deps: [b.txt]\n    outs: [a.txt]\n"
                            "  b:\n    cmd: y\n    deps: [a.txt]\n    outs: [b.txt]\n"),
              HasSubstr("dvc.yaml:3:5: the stages form a cycle: a -> b -> a"));
  EXPECT_THAT(error_of(dir, "stagez: {}\n"), HasSubstr("no 'stages:' map"));
  EXPECT_THAT(error_of(dir, "stages:\n  a:\n    cmd: x\nartefacts: {}\n"),
              HasSubstr("dvc.yaml:4:1: unknown top-level key 'artefacts'"));
}

}  // namespace
}  // namespace cadenza
