// Where a remote is: every form a user may write, and the ones refused.
#include <gmock/gmock.h>

#include "remote.h"
#include "ssh_remote.h"
#include "test_util.h"

namespace cadenza {
namespace {

using ::testing::HasSubstr;
using Kind = RemoteAddress::Kind;

TEST(RemoteAddress, DirectoriesAreRelativeToTheWorkspace) {
  EXPECT_EQ(parse_remote_address("../shared/cache", "/w/ws").path, "/w/shared/cache");
  EXPECT_EQ(parse_remote_address("/mnt/cache", "/w/ws").path, "/mnt/cache");
  EXPECT_EQ(parse_remote_address("file:///mnt/cache/", "/w/ws").kind, Kind::kDirectory);
  EXPECT_EQ(parse_remote_address("file:///mnt/cache", "/w/ws").path, "/mnt/cache");
  // A colon after a slash is part of a file name, not a host.
  EXPECT_EQ(parse_remote_address("./odd:name", "/w").kind, Kind::kDirectory);
}

TEST(RemoteAddress, SshUrlsAndScpForms) {
  RemoteAddress a = parse_remote_address("ssh://me@login.hpc.example:2222/scratch/me/cache", "/w");
  EXPECT_EQ(a.kind, Kind::kSsh);
  EXPECT_EQ(a.user, "me");
  EXPECT_EQ(a.host, "login.hpc.example");
  EXPECT_EQ(a.port, 2222);
  EXPECT_EQ(a.path, "/scratch/me/cache");
  EXPECT_EQ(a.display(), "ssh://me@login.hpc.example:2222/scratch/me/cache");
  a = parse_remote_address("ssh://cluster/~/cache", "/w");
  EXPECT_EQ(a.path, "cache");  // relative to the login's home
  EXPECT_EQ(a.display(), "ssh://cluster/~/cache");
  a = parse_remote_address("cluster:cache", "/w");
  EXPECT_EQ(a.kind, Kind::kSsh);
  EXPECT_EQ(a.host, "cluster");
  EXPECT_EQ(a.path, "cache");
  a = parse_remote_address("me@cluster:/abs/cache", "/w");
  EXPECT_EQ(a.user, "me");
  EXPECT_EQ(a.path, "/abs/cache");
}

TEST(RemoteAddress, OtherSchemesAndBadAddressesAreRefusedWithTheSupportedForms) {
  for (const char* bad : {"s3://bucket/cache", "https://example.org/c", "gs://b/c"})
    EXPECT_THAT(test::error_of([&] { parse_remote_address(bad, "/w"); }),
                HasSubstr("is not supported (supported: a directory path (or file:///path), ssh://"));
  EXPECT_THAT(test::error_of([] { parse_remote_address("ssh://host:port/x", "/w"); }), HasSubstr("not a port number"));
  EXPECT_THAT(test::error_of([] { parse_remote_address("ssh://host", "/w"); }), HasSubstr("no path on the host"));
  EXPECT_THAT(test::error_of([] { parse_remote_address("-oProxyCommand=x:path", "/w"); }), HasSubstr("is not a host name"));
  EXPECT_THAT(test::error_of([] { parse_remote_address("a;b:path", "/w"); }), HasSubstr("is not a host name"));
  EXPECT_THAT(test::error_of([] { parse_remote_address("file://relative", "/w"); }), HasSubstr("absolute path"));
  EXPECT_THAT(test::error_of([] { parse_remote_address("", "/w"); }), HasSubstr("no remote"));
}

TEST(RemoteAddress, ShellQuotingSurvivesHostileNames) {
  EXPECT_EQ(shell_quote("a b"), "'a b'");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_quote("$(rm -rf ~)"), "'$(rm -rf ~)'");
}

}  // namespace
}  // namespace cadenza
