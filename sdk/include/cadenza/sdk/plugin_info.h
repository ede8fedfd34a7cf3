/* Cadenza SDK — the plugin info record.
 *
 * Every Cadenza plugin exports one C function, cadenza_get_plugin_info(),
 * returning a pointer to a static record. The engine reads `magic` and
 * `abi_version` *before* it looks at anything else in the library or calls
 * any factory, so this layout is frozen: fields are only ever appended, and
 * an incompatible change bumps CADENZA_SDK_ABI_VERSION.
 *
 * This header is plain C so that the first thing the engine reads from a
 * library does not depend on the C++ ABI the library was built with.
 */
#ifndef CADENZA_SDK_PLUGIN_INFO_H
#define CADENZA_SDK_PLUGIN_INFO_H

#include <stdint.h>
#ifdef __cplusplus
/* Any C++ standard header defines the macros below; include one so that the
 * answer does not depend on what the plugin happened to include first. */
#include <cstddef>
#endif

/* Bump when any SDK interface (Stage, Backend, MetricSink, their contexts,
 * or the value types they exchange) changes in a way that breaks old plugins.
 * 2: backend API v2 (string job handles, attach, submit_array, outcomes by
 *    cause in JobUpdate); MetricSink::close takes the shared Outcome enum.
 * 3: ParamSpec gains default_by / defaults_by (defaults that depend on
 *    another param), which changes its layout. */
#define CADENZA_SDK_ABI_VERSION 3u

/* "CDZP" — tells a Cadenza plugin apart from a library that merely happens to
 * export a symbol of the same name. */
#define CADENZA_PLUGIN_MAGIC 0x435A4450u

/* The C++ standard library ABI the plugin was compiled against. Interfaces
 * exchange std::string and std::vector, so plugin and engine must agree. */
#if defined(_LIBCPP_VERSION)
#define CADENZA_STDLIB_ABI "libc++"
#elif defined(_GLIBCXX_USE_CXX11_ABI) && _GLIBCXX_USE_CXX11_ABI
#define CADENZA_STDLIB_ABI "libstdc++/cxx11"
#elif defined(__GLIBCXX__) || defined(__GLIBCPP__)
#define CADENZA_STDLIB_ABI "libstdc++/pre-cxx11"
#else
#define CADENZA_STDLIB_ABI "unknown"
#endif

#if defined(__clang__)
#define CADENZA_COMPILER_ID "clang " __clang_version__
#elif defined(__GNUC__)
#define CADENZA_COMPILER_ID "gcc " __VERSION__
#else
#define CADENZA_COMPILER_ID "unknown"
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cadenza_plugin_info {
  uint32_t magic;          /* CADENZA_PLUGIN_MAGIC */
  uint32_t abi_version;    /* CADENZA_SDK_ABI_VERSION the plugin was built with */
  const char* kind;        /* "stage", "backend" or "sink" */
  const char* name;        /* unique plugin name, e.g. "stage_preprocess" */
  const char* version;     /* the plugin's own version, e.g. "1.2.0" */
  const char* description; /* one line for `cadenza plugins` */
  const char* stdlib_abi;  /* CADENZA_STDLIB_ABI; must equal the engine's */
  const char* compiler;    /* CADENZA_COMPILER_ID; informational only */
} cadenza_plugin_info;

/* Name of the exported function, for loaders. */
#define CADENZA_PLUGIN_INFO_SYMBOL "cadenza_get_plugin_info"

typedef const cadenza_plugin_info* (*cadenza_get_plugin_info_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* CADENZA_SDK_PLUGIN_INFO_H */
