// The channels a script stage reports metrics through: the $CADENZA_METRICS
// lines, dvclive's files and output lines by pattern (plugins/stage_shell).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "dvclive_files.h"
#include "metric_lines.h"
#include "output_metrics.h"
#include "summary_files.h"
#include "test_util.h"

namespace cadenza::script {
namespace {

using ::testing::HasSubstr;

struct Seen {
  std::vector<MetricUpdate> updates;
  std::vector<std::string> warnings;
  OnUpdate on() {
    return [this](MetricUpdate&& u) { updates.push_back(std::move(u)); };
  }
  Warn warn() {
    return [this](const std::string& w) { warnings.push_back(w); };
  }
};

void append(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::app) << text;
}

TEST(MetricLine, ScalarsTextStepProgressAndAudio) {
  auto p = parse_metric_line(
      R"({"step": 3, "train/loss": 0.12, "ok": true, "phase": "warmup", "progress": [3, 10, "epochs"], "audio": {"val/pred": "p.wav"}})");
  ASSERT_TRUE(p.update) << p.error;
  EXPECT_EQ(*p.update->step, 3);
  EXPECT_THAT(p.update->scalars, ::testing::UnorderedElementsAre(std::pair<std::string, double>{"train/loss", 0.12},
                                                                std::pair<std::string, double>{"ok", 1.0}));
  ASSERT_EQ(p.update->texts.size(), 1u);
  EXPECT_EQ(p.update->progress->total, 10);
  EXPECT_EQ(p.update->progress->unit, "epochs");
  EXPECT_EQ(p.update->audio.at(0).second, "p.wav");
}

TEST(MetricLine, NonFiniteValuesAsPythonWritesThem) {
  auto p = parse_metric_line(R"({"a": NaN, "b": Infinity, "c": -Infinity, "s": "NaN in a string stays text? no: Infinity"})");
  ASSERT_TRUE(p.update) << p.error;
  ASSERT_EQ(p.update->scalars.size(), 3u);
  EXPECT_TRUE(std::isnan(p.update->scalars[0].second));
  EXPECT_EQ(p.update->scalars[1].second, INFINITY);
  EXPECT_EQ(p.update->scalars[2].second, -INFINITY);
  EXPECT_EQ(p.update->texts.at(0).second, "NaN in a string stays text? no: Infinity");
}

TEST(MetricLine, BadReservedFieldsAndUnknownValueKinds) {
  EXPECT_THAT(parse_metric_line(R"({"step": -1, "a": 1})").error, HasSubstr("\"step\" must be a whole number"));
  EXPECT_THAT(parse_metric_line(R"({"step": 1.5})").error, HasSubstr("whole number"));
  EXPECT_THAT(parse_metric_line(R"({"progress": [1]})").error, HasSubstr("[done, total]"));
  EXPECT_THAT(parse_metric_line(R"({"audio": {"x": 3}})").error, HasSubstr("WAV paths"));
  EXPECT_THAT(parse_metric_line("[1, 2]").error, HasSubstr("not a JSON object"));
  EXPECT_THAT(parse_metric_line("{\"a\": 1").error, "not JSON");
  auto p = parse_metric_line(R"({"a": 1, "hist": [1, 2], "cfg": {"x": 1}, "none": null})");
  ASSERT_TRUE(p.update);
  EXPECT_EQ(p.update->scalars.size(), 1u);
  EXPECT_THAT(p.ignored, ::testing::UnorderedElementsAre("hist", "cfg"));
}

TEST(MetricsFile, ATornTailWaitsForItsNewlineAndIsReportedOnlyIfTheWriterDies) {
  test::TempDir dir;
  const std::string path = dir.str() + "/m.jsonl";
  Seen seen;
  MetricsFileFollower f(path, seen.warn());
  f.poll(seen.on());  // no file yet: nothing, no warning
  append(path, "{\"step\": 1, \"a\": 1}\n{\"step\": 2, \"a\"");
  f.poll(seen.on());
  ASSERT_EQ(seen.updates.size(), 1u);
  append(path, ": 2}\n{\"a\": 3}");  // the rest arrives; then one without its newline
  f.poll(seen.on());
  ASSERT_EQ(seen.updates.size(), 2u);
  EXPECT_EQ(*seen.updates[1].step, 2);
  f.poll(seen.on(), true);  // writer gone: a complete unterminated line counts
  ASSERT_EQ(seen.updates.size(), 3u);
  EXPECT_TRUE(seen.warnings.empty());

  MetricsFileFollower torn(path + "2", seen.warn());
  append(path + "2", "{\"a\": 1}\n{\"a\": 2, \"b");
  torn.poll(seen.on(), true);
  EXPECT_EQ(seen.updates.size(), 4u);
  ASSERT_EQ(seen.warnings.size(), 1u);
  EXPECT_THAT(seen.warnings[0], HasSubstr("m.jsonl2:2: skipped, the last line is torn"));
}

TEST(MetricsFile, BadAndHugeLinesAreSkippedWithTheirLineNumbers) {
  test::TempDir dir;
  const std::string path = dir.str() + "/m.jsonl";
  Seen seen;
  MetricsFileFollower f(path, seen.warn());
  append(path, "{\"a\": 1}\nnot json\n{\"x\": \"" + std::string(3 << 20, 'z') + "\"}\n{\"a\": 2, \"h\": [1]}\n{\"a\": 3, \"h\": [2]}\n");
  f.poll(seen.on());
  ASSERT_EQ(seen.updates.size(), 3u);
  EXPECT_EQ(seen.updates[2].scalars.at(0).second, 3);
  ASSERT_EQ(seen.warnings.size(), 3u) << ::testing::PrintToString(seen.warnings);
  EXPECT_THAT(seen.warnings[0], HasSubstr("m.jsonl:2: skipped, not JSON"));
  EXPECT_THAT(seen.warnings[1], HasSubstr("m.jsonl:3: skipped, longer than 1048576 bytes"));
  EXPECT_THAT(seen.warnings[2], HasSubstr("m.jsonl:4: \"h\" is ignored"));
}

TEST(MetricsFile, ManyBadLinesGiveBoundedWarnings) {
  test::TempDir dir;
  const std::string path = dir.str() + "/m.jsonl";
  Seen seen;
  MetricsFileFollower f(path, seen.warn());
  for (int i = 0; i < 100; ++i) append(path, "oops\n");
  f.poll(seen.on());
  EXPECT_EQ(seen.warnings.size(), static_cast<size_t>(MetricsFileFollower::kMaxWarnings) + 1);
  EXPECT_THAT(seen.warnings.back(), HasSubstr("more problems in this file are not shown"));
}

TEST(MetricsFile, AMillionLinesAllArriveInOrder) {
  test::TempDir dir;
  const std::string path = dir.str() + "/m.jsonl";
  {
    std::ofstream out(path);
    for (int i = 0; i < 1000000; ++i) out << "{\"step\": " << i << ", \"loss\": " << i * 2 << "}\n";
  }
  Seen seen;
  int64_t n = 0, last = -1;
  bool ordered = true;
  MetricsFileFollower f(path, seen.warn());
  f.poll([&](MetricUpdate&& u) {
    ordered = ordered && *u.step == last + 1 && u.scalars.at(0).second == *u.step * 2.0;
    last = *u.step;
    ++n;
  });
  EXPECT_EQ(n, 1000000);
  EXPECT_TRUE(ordered);
  EXPECT_TRUE(seen.warnings.empty());
}

void write(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << text;
}

TEST(Dvclive, RowsOfEachTsvAreMetricsNamedByTheirPathAndOldRowsAreNot) {
  test::TempDir dir;
  const std::string live = dir.str() + "/dvclive";
  write(live + "/plots/metrics/train/loss.tsv", "timestamp\tstep\tloss\n1700000000000\t0\t0.9\n");  // an earlier run's
  write(live + "/metrics.json", "{\"train\": {\"loss\": 0.9}, \"step\": 0}");
  Seen seen;
  DvcliveFollower f(live, seen.warn());
  f.poll(seen.on());
  EXPECT_TRUE(seen.updates.empty());
  // dvclive (resume=False) removes its files at the start, then appends.
  std::filesystem::remove_all(live + "/plots");
  write(live + "/plots/metrics/train/loss.tsv", "timestamp\tstep\tloss\n1700000000001\t0\t0.5\n");
  write(live + "/plots/metrics/val/esr.tsv", "timestamp\tstep\tesr\n1700000000001\t0\t0.25\n");
  f.poll(seen.on());
  append(live + "/plots/metrics/train/loss.tsv", "1700000000002\t1\t0.25\n1700000000003\t2\tnan\n");
  f.poll(seen.on());
  ASSERT_EQ(seen.updates.size(), 4u);
  EXPECT_EQ(seen.updates[2].scalars[0], (std::pair<std::string, double>{"train/loss", 0.25}));
  EXPECT_EQ(*seen.updates[2].step, 1);
  EXPECT_TRUE(std::isnan(seen.updates[3].scalars[0].second));
  // The summary adds what no .tsv reported, at its step.
  write(live + "/metrics.json", "{\"train\": {\"loss\": 0.1}, \"test\": {\"esr\": 0.05}, \"step\": 2}");
  f.poll(seen.on(), true);
  ASSERT_EQ(seen.updates.size(), 5u);
  EXPECT_EQ(seen.updates[4].scalars, (std::vector<std::pair<std::string, double>>{{"test/esr", 0.05}}));
  EXPECT_EQ(*seen.updates[4].step, 2);
  EXPECT_TRUE(seen.warnings.empty());
}

TEST(Dvclive, AFileThatIsNotDvclivesIsNamedNotRead) {
  test::TempDir dir;
  Seen seen;
  DvcliveFollower f(dir.str(), seen.warn());
  write(dir.str() + "/plots/metrics/x.tsv", "a\tb\n1\t2\n");
  f.poll(seen.on());
  EXPECT_TRUE(seen.updates.empty());
  ASSERT_EQ(seen.warnings.size(), 1u);
  EXPECT_THAT(seen.warnings[0], HasSubstr("x.tsv: not a dvclive metrics file"));
}

TEST(OutputPattern, NamedGroupsInPythonSyntaxAreMetrics) {
  OutputPattern p(R"(epoch (?P<step>\d+): loss=(?P<loss>\S+)(?: esr=(?<esr>\S+))?)");
  auto u = p.match("epoch 4: loss=0.125 esr=0.5");
  ASSERT_TRUE(u);
  EXPECT_EQ(*u->step, 4);
  EXPECT_EQ(u->scalars.size(), 2u);
  u = p.match("epoch 5: loss=0.1");  // the optional group is left out
  ASSERT_TRUE(u);
  EXPECT_EQ(u->scalars, (std::vector<std::pair<std::string, double>>{{"loss", 0.1}}));
  EXPECT_FALSE(p.match("loading data"));
  std::vector<std::string> bad;
  EXPECT_FALSE(p.match("epoch 6: loss=oops", &bad));
  EXPECT_EQ(bad, std::vector<std::string>{"loss = 'oops'"});
}

TEST(OutputPattern, ABadPatternOrOneWithoutAMetricIsRefusedWithWhy) {
  try {
    OutputPattern p("loss=(?P<loss>\\S+");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("missing closing parenthesis"));
  }
  try {
    OutputPattern p("epoch (?P<step>\\d+)");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("names no metric"));
  }
}

TEST(OutputLines, LinesSplitAcrossChunksMatchOnce) {
  OutputPattern p(R"(loss=(?P<loss>\S+))");
  Seen seen;
  OutputLines lines(p, seen.warn());
  lines.feed("step 1 lo", seen.on());
  lines.feed("ss=0.5\nnoise\nloss=0.25", seen.on());
  EXPECT_EQ(seen.updates.size(), 1u);
  lines.finish(seen.on());
  ASSERT_EQ(seen.updates.size(), 2u);
  EXPECT_EQ(seen.updates[1].scalars[0].second, 0.25);
}

TEST(SummaryFiles, NumbersOfAJsonOrYamlFileOnceWrittenByThisRun) {
  test::TempDir dir;
  const std::string json_path = dir.str() + "/metrics.json", yaml_path = dir.str() + "/scores.yaml";
  write(json_path, R"({"test": {"esr": 0.5}})");  // an earlier run's
  Seen seen;
  SummaryFilesFollower f({json_path, yaml_path}, seen.warn());
  f.poll(seen.on());
  EXPECT_TRUE(seen.updates.empty());
  std::filesystem::remove(json_path);
  write(json_path, R"({"test": {"esr": 0.25, "passed": true, "note": "text"}, "step": 7})");
  write(yaml_path, "val:\n  loss: 1.5e-3\n");
  f.poll(seen.on());
  ASSERT_EQ(seen.updates.size(), 2u);
  EXPECT_EQ(*seen.updates[0].step, 7);
  EXPECT_THAT(seen.updates[0].scalars, ::testing::UnorderedElementsAre(std::pair<std::string, double>{"test/esr", 0.25},
                                                                      std::pair<std::string, double>{"test/passed", 1.0}));
  EXPECT_EQ(seen.updates[1].scalars, (std::vector<std::pair<std::string, double>>{{"val/loss", 0.0015}}));
  f.poll(seen.on());  // unchanged: not read again
  EXPECT_EQ(seen.updates.size(), 2u);
  std::filesystem::remove(yaml_path);
  write(yaml_path, "val: [unclosed\n");
  f.poll(seen.on());
  ASSERT_EQ(seen.warnings.size(), 1u);
  EXPECT_THAT(seen.warnings[0], HasSubstr("scores.yaml:2: not JSON or YAML"));
}

}  // namespace
}  // namespace cadenza::script
