// One loaded plugin library (Boost.DLL), verified before use.
//
// Loading order, so that a wrong library fails with a message and not a crash:
//   1. dlopen with RTLD_NOW | RTLD_LOCAL: unresolved symbols (e.g. a plugin
//      built against another libstdc++ string ABI) fail here, not at first call;
//   2. read the C info record and check magic, SDK ABI version, standard
//      library ABI and kind, before any C++ symbol is touched;
//   3. only then look up the kind's factory pair.
//
// Ownership: a loaded library is never unloaded in this process. Every
// object's deleter holds a shared_ptr to its library and the plugin's own
// destroy function frees the object; beyond that, exceptions thrown by
// plugin code carry vtables that live in the library and may be handled
// after the last object is gone, and LibTorch-based plugins cannot be
// unloaded at all. Loading the same path twice returns the same library.
#pragma once

#include <boost/dll/shared_library.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "cadenza/sdk/backend.h"
#include "cadenza/sdk/metric_sink.h"
#include "cadenza/sdk/stage.h"

namespace cadenza {

// A copy of a plugin's info record, owned by the engine.
struct PluginInfo {
  std::string path;
  std::string kind;
  std::string name;
  std::string version;
  std::string description;
  uint32_t abi_version = 0;
  std::string stdlib_abi;
  std::string compiler;
};

class PluginLibrary : public std::enable_shared_from_this<PluginLibrary> {
 public:
  // Loads and verifies `path`. Throws Error naming the file and, for version
  // mismatches, the expected and found values.
  static std::shared_ptr<PluginLibrary> load(const std::string& path);

  const PluginInfo& info() const { return info_; }

  // Create an object of the plugin's kind. Throws Error if the library is of
  // another kind or lacks the factory.
  std::shared_ptr<sdk::Stage> create_stage();
  std::shared_ptr<sdk::Backend> create_backend();
  std::shared_ptr<sdk::MetricSink> create_sink();

  // Use load().
  explicit PluginLibrary(boost::dll::shared_library library, PluginInfo info)
      : library_(std::move(library)), info_(std::move(info)) {}

 private:
  static std::shared_ptr<PluginLibrary> load_uncached(const std::string& path);
  template <typename T>
  std::shared_ptr<T> create(const char* kind, const char* create_name, const char* destroy_name);

  boost::dll::shared_library library_;
  PluginInfo info_;
};

// The standard library ABI this engine was built with (CADENZA_STDLIB_ABI).
const char* engine_stdlib_abi();

}  // namespace cadenza
