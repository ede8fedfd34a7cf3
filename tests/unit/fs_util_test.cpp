#include "fs_util.h"

#include <gmock/gmock.h>

#include "test_util.h"

namespace cadenza {
namespace {

TEST(FsUtil, NormalizeRelative) {
  EXPECT_EQ(normalize_relative("a/./b//c/../d"), "a/b/d");
  EXPECT_EQ(normalize_relative("a/"), "a");
  EXPECT_EQ(normalize_relative("../a"), "");
  EXPECT_EQ(normalize_relative("a/../.."), "");
  EXPECT_EQ(normalize_relative("/abs"), "");
  EXPECT_EQ(normalize_relative("."), "");
}

TEST(FsUtil, PathWithin) {
  EXPECT_TRUE(path_within("data/x", "data"));
  EXPECT_TRUE(path_within("data", "data"));
  EXPECT_FALSE(path_within("database", "data"));
  EXPECT_FALSE(path_within("data", "data/x"));
}

TEST(FsUtil, AtomicWriteReplacesAndLeavesNoTempFiles) {
  test::TempDir dir;
  const auto path = dir.path() / "sub" / "f.json";
  write_file_atomic(path, "one");
  write_file_atomic(path, "two");
  EXPECT_EQ(read_file(path), "two");
  size_t entries = 0;
  for (auto& e : fs::directory_iterator(path.parent_path())) entries += !e.path().empty();
  EXPECT_EQ(entries, 1u);
}

TEST(FsUtil, ReadMissingFileNamesIt) {
  EXPECT_THAT(test::error_of([] { read_file("/nonexistent/x"); }),
              ::testing::HasSubstr("cannot read /nonexistent/x"));
}

}  // namespace
}  // namespace cadenza
