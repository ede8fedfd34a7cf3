// Cadenza SDK — the entry points of a plugin.
//
// Put exactly one of these macros in one .cpp file of your plugin:
//
//   CADENZA_STAGE_PLUGIN(MyStage, "stage_gain", "1.0.0", "Applies a gain to audio")
//   CADENZA_BACKEND_PLUGIN(MyBackend, "backend_pbs", "0.3.0", "Runs jobs on PBS")
//   CADENZA_SINK_PLUGIN(MySink, "sink_csv", "1.0.0", "Writes metrics as CSV")
//
// Each defines the info record (read first, before anything else) and a
// create/destroy pair. Objects are created *and destroyed* by the plugin's
// own code, so allocation never crosses the boundary, and the engine keeps
// the library loaded for as long as any object it made is alive.
//
// Naming: stage plugins are called "stage_<x>", backends "backend_<x>",
// sinks "sink_<x>"; the library file is "cadenza-<name>.so".
#pragma once

#include "cadenza/sdk/plugin_info.h"
#include "cadenza/sdk/visibility.h"

#define CADENZA_DETAIL_PLUGIN(Class, Interface, kind_text, create_fn, destroy_fn, name_text,     \
                              version_text, description_text)                                  \
  extern "C" CADENZA_API_EXPORT const cadenza_plugin_info* cadenza_get_plugin_info(void) {     \
    static const cadenza_plugin_info info = {CADENZA_PLUGIN_MAGIC,                             \
                                             CADENZA_SDK_ABI_VERSION,                          \
                                             kind_text,                                        \
                                             name_text,                                        \
                                             version_text,                                     \
                                             description_text,                                 \
                                             CADENZA_STDLIB_ABI,                               \
                                             CADENZA_COMPILER_ID};                             \
    return &info;                                                                              \
  }                                                                                            \
  extern "C" CADENZA_API_EXPORT Interface* create_fn(void) { return new Class(); }             \
  extern "C" CADENZA_API_EXPORT void destroy_fn(Interface* object) { delete object; }

#define CADENZA_STAGE_PLUGIN(Class, name, version, description)                                  \
  CADENZA_DETAIL_PLUGIN(Class, ::cadenza::sdk::Stage, "stage", cadenza_create_stage,             \
                        cadenza_destroy_stage, name, version, description)

#define CADENZA_BACKEND_PLUGIN(Class, name, version, description)                                \
  CADENZA_DETAIL_PLUGIN(Class, ::cadenza::sdk::Backend, "backend", cadenza_create_backend,       \
                        cadenza_destroy_backend, name, version, description)

#define CADENZA_SINK_PLUGIN(Class, name, version, description)                                   \
  CADENZA_DETAIL_PLUGIN(Class, ::cadenza::sdk::MetricSink, "sink", cadenza_create_sink,          \
                        cadenza_destroy_sink, name, version, description)
