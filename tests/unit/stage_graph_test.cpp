#include "stage_graph.h"

#include <gmock/gmock.h>

#include "test_util.h"
#include "workflow_parser.h"

namespace cadenza {
namespace {

using test::error_of;
using ::testing::HasSubstr;

std::string stage(const std::string& name, const std::string& deps, const std::string& outs) {
  return "[stages." + name + "]\nplugin = \"p\"\ndeps = { " + deps + " }\nouts = { " + outs + " }\n";
}

struct Fixture {
  test::TempDir dir;
  Workflow wf;
  explicit Fixture(const std::string& text) {
    dir.write("raw.txt", "x");
    wf = parse_workflow_text(text, (dir.path() / "workflow.toml").string());
  }
};

TEST(StageGraph, OrdersStagesByDependencyAndKeepsFileOrderOtherwise) {
  Fixture f(stage("c", "x = \"b/out\"", "o = \"c/out\"") + stage("b", "x = \"a\"", "o = \"b/out\"") +
            stage("a", "r = \"raw.txt\"", "o = \"a\"") + stage("z", "r = \"raw.txt\"", "o = \"z\""));
  StageGraph g(f.wf);
  std::vector<std::string> names;
  for (size_t i : g.order()) names.push_back(f.wf.stages[i].name);
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "c", "z"}));
  EXPECT_EQ(g.upstream(g.index_of("c")), std::vector<size_t>{g.index_of("b")});
  EXPECT_THAT(g.to_text(), HasSubstr("c  [stage_p]  <- b"));
}

TEST(StageGraph, DepInsideAnOutDirectoryLinksTheStages) {
  Fixture f(stage("a", "r = \"raw.txt\"", "o = \"data\"") + stage("b", "x = \"data/part1\"", "o = \"b\""));
  StageGraph g(f.wf);
  EXPECT_EQ(g.upstream(1), std::vector<size_t>{0});
}

TEST(StageGraph, CycleIsNamedInOrder) {
  Fixture f(stage("a", "x = \"c\"", "o = \"a\"") + stage("b", "x = \"a\"", "o = \"b\"") +
            stage("c", "x = \"b\"", "o = \"c\"") + stage("d", "r = \"raw.txt\"", "o = \"d\""));
  const std::string msg = error_of([&] { StageGraph g(f.wf); });
  EXPECT_THAT(msg, HasSubstr("the stages form a cycle: a -> b -> c -> a"));
}

TEST(StageGraph, MissingDepNamesStageAndPath) {
  Fixture f(stage("a", "x = \"nowhere.txt\"", "o = \"a\""));
  const std::string msg = error_of([&] { StageGraph g(f.wf); });
  EXPECT_THAT(msg, HasSubstr("workflow.toml:3:14: stage 'a' depends on 'nowhere.txt', which no "
                             "stage produces and which does not exist"));
}

TEST(StageGraph, TwoStagesWritingTheSameOut) {
  Fixture f(stage("a", "r = \"raw.txt\"", "o = \"out\"") + stage("b", "r = \"raw.txt\"", "o = \"out\""));
  EXPECT_THAT(error_of([&] { StageGraph g(f.wf); }),
              HasSubstr("stage 'b' writes 'out', which overlaps output 'out' of stage 'a'"));
}

TEST(StageGraph, NestedOutsConflict) {
  Fixture f(stage("a", "r = \"raw.txt\"", "o = \"out\"") + stage("b", "r = \"raw.txt\"", "o = \"out/sub\""));
  EXPECT_THAT(error_of([&] { StageGraph g(f.wf); }), HasSubstr("overlaps output 'out' of stage 'a'"));
}

// Outs are compared as neighbours in tree order (O(n log n)): a sibling that
// sorts between a directory and its content ("out-b" between "out" and
// "out/sub" in plain byte order) must not hide the overlap.
TEST(StageGraph, OverlapsAreFoundPastSiblingsThatSortBetween) {
  Fixture f(stage("a", "r = \"raw.txt\"", "o = \"out\"") + stage("m", "r = \"raw.txt\"", "o = \"out-b\", p = \"out.c\"") +
            stage("b", "r = \"raw.txt\"", "o = \"out/sub\""));
  EXPECT_THAT(error_of([&] { StageGraph g(f.wf); }),
              HasSubstr("stage 'b' writes 'out/sub', which overlaps output 'out' of stage 'a'"));
  // A dep below an out, and an out below a dep's directory, both link.
  Fixture g(stage("a", "r = \"raw.txt\"", "o = \"data\"") + stage("z", "r = \"raw.txt\"", "o = \"data-z\"") +
            stage("b", "x = \"data/part/1\"", "o = \"b\"") + stage("c", "r = \"raw.txt\"", "o = \"lib/c\"") +
            stage("d", "x = \"lib\"", "o = \"d\""));
  StageGraph graph(g.wf);
  EXPECT_EQ(graph.upstream(graph.index_of("b")), std::vector<size_t>{graph.index_of("a")});
  EXPECT_EQ(graph.upstream(graph.index_of("d")), std::vector<size_t>{graph.index_of("c")});
}

TEST(StageGraph, StageReadingItsOwnOutput) {
  Fixture f(stage("a", "x = \"out/x\"", "o = \"out\""));
  EXPECT_THAT(error_of([&] { StageGraph g(f.wf); }),
              HasSubstr("stage 'a' depends on 'out/x', which overlaps its own output 'out'"));
}

TEST(StageGraph, ClosureAndDot) {
  Fixture f(stage("a", "r = \"raw.txt\"", "o = \"a\"") + stage("b", "x = \"a\"", "o = \"b\"") +
            stage("c", "r = \"raw.txt\"", "o = \"c\""));
  StageGraph g(f.wf);
  EXPECT_EQ(g.closure_of(g.index_of("b")), (std::vector<bool>{true, true, false}));
  EXPECT_THAT(g.to_dot(), HasSubstr("\"a\" -> \"b\" [label=\"a\"];"));
  EXPECT_THAT(error_of([&] { g.index_of("zz"); }), HasSubstr("no stage named 'zz'"));
}

}  // namespace
}  // namespace cadenza
