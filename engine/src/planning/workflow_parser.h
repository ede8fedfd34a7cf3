// Reads workflow.toml into a Workflow.
//
// Checks everything that can be checked without plugins: TOML syntax, known
// keys, value types, that every path stays inside the workspace, and that
// every "${name}" reference names a shared param. Errors name the file, line
// and column. Param schemas and the DAG are checked later (param_resolver,
// stage_graph).
#pragma once

#include <string>

#include "workflow.h"

namespace cadenza {

// Throws Error on any problem. `path` may be relative to the current directory.
Workflow parse_workflow_file(const std::string& path);

// Same, from text; `file_name` is used in messages and to find the workspace.
Workflow parse_workflow_text(const std::string& text, const std::string& file_name);

// Parses "512M", "2G", "1024" (bytes) or an integer; throws Error mentioning `where`.
uint64_t parse_memory_size(const ValueAt& value, const std::string& where);
// Parses "90s", "30m", "2h", "1d", "HH:MM:SS" or integer seconds.
int64_t parse_duration_s(const ValueAt& value, const std::string& where);

}  // namespace cadenza
