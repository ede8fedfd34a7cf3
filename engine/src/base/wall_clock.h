// Seconds since the epoch, as every on-disk record of the engine stores
// time (run events, results, experiment records, metrics).
#pragma once

#include <chrono>

namespace cadenza {

inline double wall_clock_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace cadenza
