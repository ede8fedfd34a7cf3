#include "plugin_library.h"

#include <map>
#include <mutex>
#include <set>

#include "cadenza/sdk/plugin_info.h"
#include "error.h"

namespace cadenza {

namespace {

std::string text_or_empty(const char* s) { return s ? s : ""; }

}  // namespace

const char* engine_stdlib_abi() { return CADENZA_STDLIB_ABI; }

std::shared_ptr<PluginLibrary> PluginLibrary::load(const std::string& path) {
  // Load once, keep forever (see the header): a process-wide registry.
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<PluginLibrary>> loaded;
  std::lock_guard<std::mutex> lock(mutex);
  if (auto it = loaded.find(path); it != loaded.end()) return it->second;
  auto library = load_uncached(path);
  loaded[path] = library;
  return library;
}

std::shared_ptr<PluginLibrary> PluginLibrary::load_uncached(const std::string& path) {
  boost::dll::shared_library library;
  try {
    library.load(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {  // boost:: or std::system_error
    throw Error("cannot load plugin " + path + ": " + e.what() +
                " (a plugin built against another SDK or toolchain often fails here; "
                "rebuild it against this Cadenza SDK)");
  }
  if (!library.has(CADENZA_PLUGIN_INFO_SYMBOL))
    throw Error(path + " is not a Cadenza plugin: it exports no " CADENZA_PLUGIN_INFO_SYMBOL
                "() (build plugins with the CADENZA_*_PLUGIN macros of <cadenza/sdk/export.h>)");
  auto get_info = library.get<const cadenza_plugin_info*()>(CADENZA_PLUGIN_INFO_SYMBOL);
  const cadenza_plugin_info* raw = get_info();
  if (!raw || raw->magic != CADENZA_PLUGIN_MAGIC)
    throw Error(path + " is not a Cadenza plugin: its " CADENZA_PLUGIN_INFO_SYMBOL
                "() record has the wrong magic number");
  if (raw->abi_version != CADENZA_SDK_ABI_VERSION)
    throw Error(path + " was built for Cadenza SDK ABI version " +
                std::to_string(raw->abi_version) + ", but this engine needs version " +
                std::to_string(CADENZA_SDK_ABI_VERSION) + "; rebuild the plugin against this "
                "engine's SDK: `cmake --build <its build dir> --clean-first` with "
                "CMAKE_PREFIX_PATH pointing at this Cadenza's install (see sdk/README.md, "
                "\"Upgrading across SDK ABI versions\")" +
                (raw->abi_version == 1 && text_or_empty(raw->kind) == "backend"
                     ? "; a backend also needs porting to backend API v2 (string job handles, "
                       "attach(); see <cadenza/sdk/backend.h>)"
                     : ""));
  PluginInfo info;
  info.path = path;
  info.abi_version = raw->abi_version;
  info.kind = text_or_empty(raw->kind);
  info.name = text_or_empty(raw->name);
  info.version = text_or_empty(raw->version);
  info.description = text_or_empty(raw->description);
  info.stdlib_abi = text_or_empty(raw->stdlib_abi);
  info.compiler = text_or_empty(raw->compiler);
  if (info.stdlib_abi != engine_stdlib_abi())
    throw Error(path + " was built with C++ standard library ABI '" + info.stdlib_abi +
                "' (" + info.compiler + "), but this engine uses '" + engine_stdlib_abi() +
                "'; rebuild the plugin with the same standard library and "
                "_GLIBCXX_USE_CXX11_ABI setting as the engine");
  static const std::set<std::string> kinds{"stage", "backend", "sink"};
  if (!kinds.count(info.kind))
    throw Error(path + " declares unknown plugin kind '" + info.kind +
                "' (expected stage, backend or sink)");
  if (info.name.empty()) throw Error(path + " declares an empty plugin name");
  return std::make_shared<PluginLibrary>(std::move(library), std::move(info));
}

template <typename T>
std::shared_ptr<T> PluginLibrary::create(const char* kind, const char* create_name,
                                         const char* destroy_name) {
  if (info_.kind != kind)
    throw Error("plugin '" + info_.name + "' (" + info_.path + ") is a " + info_.kind +
                " plugin, not a " + kind + " plugin");
  if (!library_.has(create_name) || !library_.has(destroy_name))
    throw Error(info_.path + " is missing its factory: a " + std::string(kind) +
                " plugin must export " + create_name + "() and " + destroy_name + "()");
  auto create_fn = library_.get<T*()>(create_name);
  void (*destroy_fn)(T*) = &library_.get<void(T*)>(destroy_name);
  T* object = nullptr;
  try {
    object = create_fn();
  } catch (const std::exception& e) {
    throw Error("plugin '" + info_.name + "' failed to create its " + kind + ": " + e.what());
  } catch (...) {
    throw Error("plugin '" + info_.name + "' failed to create its " + kind +
                " (unknown exception)");
  }
  if (!object) throw Error("plugin '" + info_.name + "' returned no " + kind + " object");
  // The deleter keeps this library loaded until the object is gone.
  auto self = shared_from_this();
  return std::shared_ptr<T>(object, [self, destroy_fn](T* p) { destroy_fn(p); });
}

std::shared_ptr<sdk::Stage> PluginLibrary::create_stage() {
  return create<sdk::Stage>("stage", "cadenza_create_stage", "cadenza_destroy_stage");
}
std::shared_ptr<sdk::Backend> PluginLibrary::create_backend() {
  return create<sdk::Backend>("backend", "cadenza_create_backend", "cadenza_destroy_backend");
}
std::shared_ptr<sdk::MetricSink> PluginLibrary::create_sink() {
  return create<sdk::MetricSink>("sink", "cadenza_create_sink", "cadenza_destroy_sink");
}

}  // namespace cadenza
