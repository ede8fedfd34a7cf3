// Helpers for the commands Cadenza runs: finding a program on PATH, and a
// user's command line split as a shell would.
#include "subprocess.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>

#include "error.h"
#include "experiment_record.h"
#include "test_util.h"

namespace cadenza {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(SplitCommandLine, QuotesGroupWordsAsInAShell) {
  EXPECT_THAT(split_command_line("ssh -F '/home/a b/ssh config' -o \"ProxyCommand=ssh -W %h:%p jump\"", "X"),
              ElementsAre("ssh", "-F", "/home/a b/ssh config", "-o", "ProxyCommand=ssh -W %h:%p jump"));
  EXPECT_THAT(split_command_line("  ssh\t-v  ", "X"), ElementsAre("ssh", "-v"));
}

TEST(SplitCommandLine, WhatAShellWouldRunIsRefusedByName) {
  try {
    split_command_line("ssh $(rm -rf ~)", "CADENZA_SSH_COMMAND");
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("CADENZA_SSH_COMMAND 'ssh $(rm -rf ~)': command substitution"));
  }
  EXPECT_THROW(split_command_line("ssh -o 'unclosed", "X"), Error);
}

// A PATH with `git` in a directory of the user's own: the experiment record
// finds it (it looked in /usr/bin and /usr/local/bin only).
TEST(FindOnPath, GitIsFoundWhereThePathHasIt) {
  test::TempDir dir;
  const std::string fake = dir.write("bin/git", "#!/bin/sh\n[ \"$3\" = rev-parse ] && echo 0123456789abcdef && exit 0\nexit 0\n");
  ::chmod(fake.c_str(), 0755);
  const std::string old = std::getenv("PATH") ? std::getenv("PATH") : "";
  ::setenv("PATH", (dir.str() + "/bin:" + old).c_str(), 1);
  EXPECT_EQ(find_on_path("git"), fake);
  std::string commit;
  bool dirty = true;
  describe_git(dir.str(), &commit, &dirty);
  ::setenv("PATH", old.c_str(), 1);
  EXPECT_EQ(commit, "0123456789abcdef");
  EXPECT_FALSE(dirty);
  EXPECT_EQ(find_on_path("no-such-program-here"), "");
}

}  // namespace
}  // namespace cadenza
