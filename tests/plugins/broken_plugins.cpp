// Libraries that look like plugins but are not usable ones, one per
// BROKEN_KIND, for the loader's refusal tests.
#include "cadenza/sdk/export.h"
#include "cadenza/sdk/plugin_info.h"
#include "cadenza/sdk/stage.h"

#if BROKEN_KIND == 1  // built for a future SDK ABI
#define TEST_ABI 999u
#elif BROKEN_KIND == 8  // a backend built for SDK ABI 1 (backend API v1)
#define TEST_ABI 1u
#else
#define TEST_ABI CADENZA_SDK_ABI_VERSION
#endif

#if BROKEN_KIND == 2  // another C++ standard library
#define TEST_STDLIB "libc++"
#else
#define TEST_STDLIB CADENZA_STDLIB_ABI
#endif

#if BROKEN_KIND == 3  // not a plugin at all: no info record
extern "C" CADENZA_API_EXPORT int some_unrelated_function(void) { return 42; }
#else
extern "C" CADENZA_API_EXPORT const cadenza_plugin_info* cadenza_get_plugin_info(void) {
  static const cadenza_plugin_info info = {
      BROKEN_KIND == 5 ? 0x12345678u : CADENZA_PLUGIN_MAGIC,
      TEST_ABI, BROKEN_KIND == 8 ? "backend" : "stage", BROKEN_KIND == 8 ? "backend_old" : "stage_broken", "0.0.1", "a broken plugin", TEST_STDLIB,
      CADENZA_COMPILER_ID};
  return &info;
}
#endif

#if BROKEN_KIND == 6  // a stage whose constructor throws
namespace {
struct Throwing : cadenza::sdk::Stage {
  Throwing() { throw cadenza::sdk::PluginError("constructor refuses"); }
  std::vector<cadenza::sdk::ParamSpec> params() const override { return {}; }
  void run(cadenza::sdk::StageContext&) override {}
};
}  // namespace
extern "C" CADENZA_API_EXPORT cadenza::sdk::Stage* cadenza_create_stage(void) { return new Throwing(); }
extern "C" CADENZA_API_EXPORT void cadenza_destroy_stage(cadenza::sdk::Stage* s) { delete s; }
#endif
#if BROKEN_KIND == 7  // needs a symbol nothing provides (built without --no-undefined)
extern "C" int cadenza_test_symbol_nobody_defines(void);
extern "C" CADENZA_API_EXPORT int uses_missing_symbol(void) { return cadenza_test_symbol_nobody_defines(); }
#endif
// BROKEN_KIND == 4: an info record but no factory.
