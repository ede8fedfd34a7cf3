// The CLI's subcommands. Each takes the arguments after its name and returns
// the process exit code; user errors are thrown as cadenza::Error.
#pragma once

#include "version.h"
#include <string>
#include <vector>

namespace cadenza {

using Args = std::vector<std::string>;

int cmd_run(const Args& args);
int cmd_dag(const Args& args);
int cmd_plugins(const Args& args);
int cmd_exec_stage(const Args& args);
int cmd_plugin_meta(const Args& args);
int cmd_plugin(const Args& args);
// cache_commands.cpp
int cmd_status(const Args& args);
int cmd_checkout(const Args& args);
int cmd_gc(const Args& args);
int cmd_push(const Args& args);
int cmd_pull(const Args& args);
// sync_command.cpp
int cmd_sync(const Args& args);
int cmd_cache(const Args& args);
// monitor_commands.cpp
int cmd_logs(const Args& args);
int cmd_cancel(const Args& args);
int cmd_import(const Args& args);
// exp_commands.cpp
int cmd_exp(const Args& args);

// Prints the top-level help, or a command's help; false if unknown.
bool print_help(const std::string& command);


}  // namespace cadenza
