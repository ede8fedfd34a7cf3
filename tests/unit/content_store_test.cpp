#include "content_store.h"

#include <gmock/gmock.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "hash.h"
#include "lock_file.h"
#include "run_cache.h"
#include "stat_cache.h"
#include "test_util.h"

namespace cadenza {
namespace {

using test::error_of;
using ::testing::HasSubstr;

TEST(Hash, Xxh3KnownValuesAndHex) {
  // XXH3-128 of the empty input, from the xxHash reference.
  EXPECT_EQ(hash_bytes("").hex(), "99aa06d3014798d86001c324468d497f");
  const Hash128 h = hash_bytes("cadenza");
  EXPECT_EQ(Hash128::from_hex(h.hex()), h);
  EXPECT_THROW(Hash128::from_hex("xyz"), Error);
  test::TempDir dir;
  uint64_t size = 0;
  EXPECT_EQ(hash_file(dir.write("f", "cadenza"), &size), h);
  EXPECT_EQ(size, 7u);
}

TEST(StatCache, UnchangedFilesAreNotRehashedChangedOnesAre) {
  test::TempDir dir;
  const std::string f = dir.write("f", "one");
  const std::string cache_file = dir.str() + "/statcache";
  FileStat st;
  {
    StatCache cache(cache_file);
    ASSERT_TRUE(stat_path(f, &st));
    EXPECT_EQ(cache.file_hash(f, st), hash_bytes("one"));
    EXPECT_EQ(cache.hashed_count(), 1u);
    cache.save();
  }
  StatCache cache(cache_file);
  EXPECT_EQ(cache.file_hash(f, st), hash_bytes("one"));
  EXPECT_EQ(cache.hashed_count(), 0u);  // from the saved cache
  dir.write("f", "two!");
  ASSERT_TRUE(stat_path(f, &st));
  EXPECT_EQ(cache.file_hash(f, st), hash_bytes("two!"));
  EXPECT_EQ(cache.hashed_count(), 1u);
}

TEST(StatCache, TornOrGarbageLinesAreIgnored) {
  test::TempDir dir;
  dir.write("statcache", "cadenza-statcache 3 000000000050\ngarbage\n" + hash_bytes("x").hex() + " 1 2 3 4 /p\n" + "0123 torn");
  StatCache cache(dir.str() + "/statcache");  // must not throw
  SUCCEED();
}

class ContentStoreTest : public ::testing::Test {
 protected:
  test::TempDir dir_;
  ContentStore store_{dir_.str() + "/cache", false};
};

TEST_F(ContentStoreTest, StoresAndRestoresAFileByCopy) {
  const std::string f = dir_.write("ws/a.txt", "alpha");
  const StoredOutput out = store_.store(f, dir_.str() + "/ws", LinkMode::kCopy);
  EXPECT_EQ(out.hash, hash_bytes("alpha"));
  EXPECT_EQ(out.size, 5u);
  EXPECT_TRUE(store_.has(out));
  struct stat st;
  ASSERT_EQ(::stat(store_.object_path(out.hash).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0444u);
  EXPECT_EQ(st.st_mtim.tv_sec, 0);
  store_.restore(out, dir_.str() + "/ws/b.txt", LinkMode::kCopy);
  EXPECT_EQ(dir_.read("ws/b.txt"), "alpha");
}

TEST_F(ContentStoreTest, EqualTreesHashEqualAndRestoreWhole) {
  dir_.write("ws/t1/x.txt", "x");
  dir_.write("ws/t1/sub/y.txt", "y");
  dir_.write("ws/t2/sub/y.txt", "y");
  dir_.write("ws/t2/x.txt", "x");
  const auto a = store_.store(dir_.str() + "/ws/t1", dir_.str() + "/ws", LinkMode::kAuto);
  const auto b = store_.store(dir_.str() + "/ws/t2", dir_.str() + "/ws", LinkMode::kAuto);
  EXPECT_TRUE(a.is_dir);
  EXPECT_EQ(a.hash, b.hash);
  EXPECT_EQ(a.size, 2u);
  const auto hashed = hash_tree(dir_.str() + "/ws/t1", [](const std::string& p, const FileStat&) {
    return hash_file(p);
  });
  EXPECT_EQ(hashed.hash, a.hash);  // hashing without storing agrees
  dir_.write("ws/t3/old.txt", "old");
  store_.restore(a, dir_.str() + "/ws/t3", LinkMode::kCopy);
  EXPECT_EQ(dir_.read("ws/t3/sub/y.txt"), "y");
  EXPECT_FALSE(dir_.exists("ws/t3/old.txt"));  // replaced whole, not merged
}

TEST_F(ContentStoreTest, HardlinkRestoreSharesTheInode) {
  const std::string f = dir_.write("ws/big.bin", std::string(100000, 'z'));
  const auto out = store_.store(f, dir_.str() + "/ws", LinkMode::kHardlink);
  store_.restore(out, dir_.str() + "/ws/copy.bin", LinkMode::kHardlink);
  struct stat a, b;
  ASSERT_EQ(::stat(store_.object_path(out.hash).c_str(), &a), 0);
  ASSERT_EQ(::stat((dir_.str() + "/ws/copy.bin").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
}

TEST_F(ContentStoreTest, ACorruptObjectIsNeverRestored) {
  const std::string f = dir_.write("ws/a.txt", "alpha");
  const auto out = store_.store(f, dir_.str() + "/ws", LinkMode::kCopy);
  const std::string object = store_.object_path(out.hash);
  ::chmod(object.c_str(), 0644);
  std::ofstream(object, std::ios::binary | std::ios::in) << "ALPHA";  // same size, new bytes
  for (LinkMode mode : {LinkMode::kCopy, LinkMode::kHardlink}) {
    EXPECT_THAT(error_of([&] { store_.restore(out, dir_.str() + "/ws/r.txt", mode); }),
                HasSubstr("is corrupt"));
    EXPECT_FALSE(dir_.exists("ws/r.txt"));
  }
}

// Written through a hardlink with the mtime set back to 0: only the ctime
// tells, and a restore in any mode re-hashes and refuses. A mere unlink of a
// linked workspace file also moves the ctime: that costs a re-hash, not the object.
TEST_F(ContentStoreTest, AnObjectWrittenThroughAHardlinkIsCaughtByItsCtime) {
  const std::string f = dir_.write("ws/a.txt", "alpha");
  const auto out = store_.store(f, dir_.str() + "/ws", LinkMode::kHardlink);
  store_.reseal_linked();
  store_.restore(out, dir_.str() + "/ws/b.txt", LinkMode::kHardlink);
  ASSERT_EQ(::unlink((dir_.str() + "/ws/b.txt").c_str()), 0);
  store_.restore(out, dir_.str() + "/ws/c.txt", LinkMode::kCopy);  // still good
  EXPECT_EQ(dir_.read("ws/c.txt"), "alpha");

  ::chmod(f.c_str(), 0644);
  std::ofstream(f, std::ios::binary | std::ios::in) << "ALPHA";
  const struct timespec zero[2] = {{0, 0}, {0, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, f.c_str(), zero, 0), 0);
  for (LinkMode mode : {LinkMode::kCopy, LinkMode::kHardlink, LinkMode::kAuto}) {
    EXPECT_THAT(error_of([&] { store_.restore(out, dir_.str() + "/ws/r.txt", mode); }),
                HasSubstr("is corrupt"));
    EXPECT_FALSE(dir_.exists("ws/r.txt"));
  }
  // Storing the right bytes again replaces the damaged object.
  const std::string g = dir_.write("ws/g.txt", "alpha");
  EXPECT_EQ(store_.store(g, dir_.str() + "/ws", LinkMode::kCopy).hash, out.hash);
  store_.restore(out, dir_.str() + "/ws/r.txt", LinkMode::kHardlink);
  EXPECT_EQ(dir_.read("ws/r.txt"), "alpha");
}

TEST_F(ContentStoreTest, MissingObjectIsAClearError) {
  EXPECT_THAT(error_of([&] {
                store_.restore({hash_bytes("nope"), 4, false}, dir_.str() + "/ws/x", LinkMode::kCopy);
              }),
              HasSubstr("is missing from the cache"));
}

TEST_F(ContentStoreTest, SymlinksOutsideTheWorkspaceAreRefused) {
  dir_.write("ws/out/ok.txt", "ok");
  fs::create_symlink("/etc/hostname", dir_.path() / "ws/out/escape");
  EXPECT_THAT(error_of([&] { store_.store(dir_.str() + "/ws/out", dir_.str() + "/ws", LinkMode::kCopy); }),
              HasSubstr("outside the workspace"));
  fs::create_symlink("ok.txt", dir_.path() / "ws/inside");
  fs::remove(dir_.path() / "ws/out/escape");
  EXPECT_NO_THROW(store_.store(dir_.str() + "/ws/out", dir_.str() + "/ws", LinkMode::kCopy));
}

TEST_F(ContentStoreTest, SharedCacheIsGroupWritable) {
  ContentStore shared(dir_.str() + "/shared", true);
  shared.store(dir_.write("ws/a", "a"), dir_.str() + "/ws", LinkMode::kCopy);
  struct stat st;
  ASSERT_EQ(::stat((dir_.str() + "/shared/objects/" + hash_bytes("a").hex().substr(0, 2)).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 02775u);
}

TEST(RunCacheAndLock, RoundTripAndCorruptLockIsAnError) {
  test::TempDir dir;
  RunCache runs(dir.str(), false);
  RunRecord r;
  r.key = hash_bytes("k");
  r.stage = "s";
  r.plugin = "stage_x";
  r.outs["o"] = {hash_bytes("v"), 1, false};
  r.paths["o"] = "out/o";
  runs.put(r);
  auto back = runs.find(r.key);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->outs.at("o").hash, hash_bytes("v"));
  EXPECT_FALSE(runs.find(hash_bytes("other")));

  LockFile lock(dir.str() + "/workflow.lock");
  LockEntry e;
  e.key = r.key;
  e.plugin_name = "stage_x";
  e.params = {{"lr", 0.01}};
  e.outs["o"] = {"out/o", hash_bytes("v"), 1, false};
  lock.set("s", e);
  lock.save();
  LockFile again(dir.str() + "/workflow.lock");
  ASSERT_TRUE(again.find("s"));
  EXPECT_EQ(again.find("s")->params["lr"], 0.01);
  dir.write("workflow.lock", "{not json");
  EXPECT_THAT(error_of([&] { LockFile bad(dir.str() + "/workflow.lock"); }),
              HasSubstr("workflow.lock is not a valid lock file"));
  // A bad hash names the file and the stage.
  dir.write("workflow.lock", "{\"version\": 1, \"stages\": {\"train\": {\"key\": \"zzzz\"}}}");
  EXPECT_THAT(error_of([&] { LockFile bad(dir.str() + "/workflow.lock"); }),
              HasSubstr("workflow.lock: stage 'train': not a 32-digit hash: 'zzzz'; restore the file from git"));
}

}  // namespace
}  // namespace cadenza
