#include "plugin_library.h"

#include <gmock/gmock.h>

#include "cadenza/sdk/plugin_info.h"
#include "plugin_catalog.h"
#include "test_util.h"

namespace cadenza {
namespace {

using test::error_of;
using ::testing::HasSubstr;

std::string lib(const std::string& name) {
  return test::test_plugin_dir() + "/cadenza-stage_" + name + ".so";
}

TEST(PluginLibrary, LoadsAGoodPluginAndCreatesAStage) {
  auto library = PluginLibrary::load(lib("test_worker"));
  EXPECT_EQ(library->info().name, "stage_test_worker");
  EXPECT_EQ(library->info().kind, "stage");
  EXPECT_EQ(library->info().version, "0.1.0");
  EXPECT_EQ(library->info().abi_version, CADENZA_SDK_ABI_VERSION);
  auto stage = library->create_stage();
  library.reset();
  // The library stays loaded: calling into the stage must still work, and
  // loading the path again returns the same library.
  EXPECT_EQ(stage->params().front().name, "mode");
  stage.reset();
  auto again = PluginLibrary::load(lib("test_worker"));
  EXPECT_EQ(again->create_stage()->params().size(), 9u);
}

TEST(PluginLibrary, AnExceptionFromAPluginOutlivesItsObjects) {
  // The exception's vtable lives in the plugin: handling it after the last
  // object is gone must not crash (the library is never unloaded).
  try {
    auto stage = PluginLibrary::load(lib("throwing_ctor"))->create_stage();
    FAIL() << "expected the constructor to throw";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("constructor refuses"));
  }
}

TEST(PluginLibrary, RefusesWrongSdkAbiNamingBothVersions) {
  const std::string msg = error_of([] { PluginLibrary::load(lib("bad_abi")); });
  EXPECT_THAT(msg, HasSubstr(lib("bad_abi") + " was built for Cadenza SDK ABI version 999, but "
                             "this engine needs version 3"));
  EXPECT_THAT(msg, HasSubstr("rebuild the plugin against this engine's SDK"));
}

TEST(PluginLibrary, RefusesAVersion1BackendSayingHowToPortIt) {
  const std::string path = test::test_plugin_dir() + "/cadenza-backend_v1_backend.so";
  const std::string msg = error_of([&] { PluginLibrary::load(path); });
  EXPECT_THAT(msg, HasSubstr("built for Cadenza SDK ABI version 1, but this engine needs version 3"));
  EXPECT_THAT(msg, HasSubstr("--clean-first"));
  EXPECT_THAT(msg, HasSubstr("porting to backend API v2"));
}

TEST(PluginLibrary, RefusesAnotherStandardLibraryAbi) {
  EXPECT_THAT(error_of([] { PluginLibrary::load(lib("wrong_stdlib")); }),
              HasSubstr("was built with C++ standard library ABI 'libc++'"));
}

TEST(PluginLibrary, RefusesALibraryThatIsNotAPlugin) {
  EXPECT_THAT(error_of([] { PluginLibrary::load(lib("not_a_plugin")); }),
              HasSubstr("is not a Cadenza plugin: it exports no cadenza_get_plugin_info()"));
  EXPECT_THAT(error_of([] { PluginLibrary::load(lib("bad_magic")); }),
              HasSubstr("is not a Cadenza plugin: its cadenza_get_plugin_info() record has the "
                        "wrong magic number"));
}

TEST(PluginLibrary, RefusesALibraryWithAnUnresolvedSymbol) {
  // Loaded with RTLD_NOW: refused at load time, not at its first call.
  const std::string msg = error_of([] { PluginLibrary::load(lib("unresolved_symbol")); });
  EXPECT_THAT(msg, HasSubstr("cannot load plugin " + lib("unresolved_symbol")));
  EXPECT_THAT(msg, HasSubstr("undefined symbol: cadenza_test_symbol_nobody_defines"));
}

TEST(PluginLibrary, RefusesAMissingFactory) {
  auto library = PluginLibrary::load(lib("no_factory"));
  EXPECT_THAT(error_of([&] { library->create_stage(); }),
              HasSubstr("is missing its factory: a stage plugin must export cadenza_create_stage()"));
}

TEST(PluginLibrary, ReportsAThrowingConstructor) {
  auto library = PluginLibrary::load(lib("throwing_ctor"));
  EXPECT_THAT(error_of([&] { library->create_stage(); }),
              HasSubstr("plugin 'stage_broken' failed to create its stage: constructor refuses"));
}

TEST(PluginLibrary, RefusesTheWrongKind) {
  auto library = PluginLibrary::load(lib("test_worker"));
  EXPECT_THAT(error_of([&] { library->create_backend(); }),
              HasSubstr("is a stage plugin, not a backend plugin"));
}

TEST(PluginLibrary, MissingFileAndNonLibrary) {
  EXPECT_THAT(error_of([] { PluginLibrary::load("/nonexistent/cadenza-x.so"); }),
              HasSubstr("cannot load plugin /nonexistent/cadenza-x.so"));
  test::TempDir dir;
  const std::string junk = dir.write("cadenza-stage_junk.so", "not an ELF file");
  EXPECT_THAT(error_of([&] { PluginLibrary::load(junk); }), HasSubstr("cannot load plugin " + junk));
}

TEST(PluginCatalog, DescribesInAChildProcessAndCachesByIdentity) {
  test::TempDir dir;
  const std::string cache = dir.str() + "/meta.json";
  {
    PluginCatalog catalog(cache, test::cadenza_binary());
    const PluginMeta& meta = catalog.describe(lib("test_worker"));
    EXPECT_EQ(meta.info.name, "stage_test_worker");
    ASSERT_EQ(meta.params.size(), 9u);
    EXPECT_EQ(meta.params[0].choices.size(), 8u);
    EXPECT_TRUE(meta.params[1].has_bounds);
    catalog.save();
  }
  ASSERT_TRUE(fs::exists(cache));
  // A cached answer is used without running anything: prove it by pointing
  // the cached entry at a different name and seeing that name come back.
  auto j = nlohmann::json::parse(read_file(cache));
  j[lib("test_worker")]["meta"]["name"] = "from_cache";
  write_file_atomic(cache, j.dump());
  PluginCatalog again(cache, test::cadenza_binary());
  EXPECT_EQ(again.describe(lib("test_worker")).info.name, "from_cache");
}

TEST(PluginCatalog, ChildErrorsBecomeMessages) {
  PluginCatalog catalog("", test::cadenza_binary());
  EXPECT_THAT(error_of([&] { catalog.describe(lib("bad_abi")); }),
              HasSubstr("was built for Cadenza SDK ABI version 999"));
}

}  // namespace
}  // namespace cadenza
