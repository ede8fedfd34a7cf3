// The live view of a run, shared by `status` and `status --watch`.
#pragma once

#include <nlohmann/json.hpp>

#include "run_record.h"

namespace cadenza {

nlohmann::json live_status_json(const RunStatus& run);
void print_live_status(const RunStatus& run);

}  // namespace cadenza
