// Cadenza SDK — the one exception type that crosses the plugin boundary.
//
// A plugin reports a failure it understands (bad input file, diverged
// training, missing output) by throwing cadenza::sdk::PluginError with a
// message written for the user: name the file, field or value and say what
// to do. The engine catches it (and, defensively, any std::exception) while
// the plugin's library is still loaded, turns it into a failed stage with
// that message, and never lets it escape as a crash.
#pragma once

#include <stdexcept>
#include <string>

#include "cadenza/sdk/visibility.h"

namespace cadenza::sdk {

class CADENZA_API_VISIBLE PluginError : public std::runtime_error {
 public:
  explicit PluginError(const std::string& message) : std::runtime_error(message) {}
};

// Thrown by StageContext when the stage noticed a cancellation request and
// stops early. Stages may throw it themselves after checking cancelled().
class CADENZA_API_VISIBLE Cancelled : public PluginError {
 public:
  Cancelled() : PluginError("cancelled") {}
};

}  // namespace cadenza::sdk
