// cadenza: the command-line entry point. Dispatches to commands.cpp and turns
// cadenza::Error into "error: <message>" and its exit code.
#include <iostream>
#include <map>

#include "commands.h"
#include "finish_run.h"
#include "error.h"

int main(int argc, char** argv) {
  using namespace cadenza;
  const std::vector<std::string> all(argv + 1, argv + argc);
  if (all.empty() || all[0] == "-h" || all[0] == "--help" || all[0] == "help") {
    print_help(all.size() > 1 ? all[1] : "");
    return all.empty() ? 2 : 0;
  }
  if (all[0] == "--version") {
    std::cout << "cadenza " << kCadenzaVersion << "\n";
    return 0;
  }
  static const std::map<std::string, int (*)(const Args&)> commands = {
      {"run", cmd_run},
      {"dag", cmd_dag},
      {"plugins", cmd_plugins},
      {"exec-stage", cmd_exec_stage},
      {"plugin", cmd_plugin},
      {"plugin-meta", cmd_plugin_meta},  // internal: describes a plugin for the catalog
      {"finish-run", cmd_finish_run},    // internal: the last job of a handed-off run
      {"status", cmd_status},
      {"checkout", cmd_checkout},
      {"gc", cmd_gc},
      {"push", cmd_push},
      {"sync", cmd_sync},
      {"pull", cmd_pull},
      {"cache", cmd_cache},
      {"logs", cmd_logs},
      {"cancel", cmd_cancel},
      {"exp", cmd_exp},
      {"import", cmd_import},
  };
  auto it = commands.find(all[0]);
  if (it == commands.end()) {
    std::cerr << "error: unknown command '" << all[0] << "' (see `cadenza --help`)\n";
    return 2;
  }
  try {
    return it->second(Args(all.begin() + 1, all.end()));
  } catch (const Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return e.exit_code();
  } catch (const std::exception& e) {
    std::cerr << "error: internal error: " << e.what() << "\n";
    return 70;
  }
}
