# cadenza_add_plugin(<name> KIND <stage|backend|sink> SOURCES <files...>)
#
# Builds a Cadenza plugin the way the engine expects it:
#   - a MODULE library named cadenza-<name>.so (what the plugin finder looks for);
#   - hidden visibility, so two plugins never bind to each other's symbols;
#   - -Wl,--no-undefined, so a missing symbol fails the build, not the run;
#   - C++17 and the SDK headers.
# <name> must start with "<kind>_" (stage_gain, backend_pbs, sink_csv).
# Set CADENZA_PLUGIN_OUTPUT_DIR to collect plugins in one directory.
function(cadenza_add_plugin name)
  cmake_parse_arguments(ARG "" "KIND" "SOURCES" ${ARGN})
  if(NOT ARG_KIND MATCHES "^(stage|backend|sink)$")
    message(FATAL_ERROR "cadenza_add_plugin(${name}): KIND must be stage, backend or sink")
  endif()
  if(NOT name MATCHES "^${ARG_KIND}_")
    message(FATAL_ERROR "cadenza_add_plugin(${name}): a ${ARG_KIND} plugin's name must start with '${ARG_KIND}_'")
  endif()
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "cadenza_add_plugin(${name}): SOURCES is empty")
  endif()
  add_library(${name} MODULE ${ARG_SOURCES})
  if(TARGET Cadenza::sdk)
    target_link_libraries(${name} PRIVATE Cadenza::sdk)
  else()
    target_link_libraries(${name} PRIVATE cadenza_sdk)
  endif()
  target_compile_features(${name} PRIVATE cxx_std_17)
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    OUTPUT_NAME "cadenza-${name}"
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(NOT APPLE)
    target_link_options(${name} PRIVATE "LINKER:--no-undefined")
  endif()
  if(CADENZA_PLUGIN_OUTPUT_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${CADENZA_PLUGIN_OUTPUT_DIR}")
  endif()
  set_property(GLOBAL APPEND PROPERTY CADENZA_PLUGIN_TARGETS ${name})
endfunction()

# cadenza_install_plugin(<name>): installs the plugin where the installed
# engine finds it by default (<prefix>/lib/cadenza/plugins).
function(cadenza_install_plugin name)
  # Fixed, not CMAKE_INSTALL_LIBDIR: the engine looks in <bindir>/../lib/cadenza/plugins.
  install(TARGETS ${name} LIBRARY DESTINATION lib/cadenza/plugins)
endfunction()
