// Follows the TensorBoard event files a script writes (SummaryWriter's
// events.out.tfevents.* under a log directory, at any depth), so a script
// that logs with TensorBoard needs no change: every scalar becomes a metric
// with its tag and step, every audio clip the stage's audio.
//
// Only this run's records count: files already there when the stage
// starts (an earlier run's, or the output's previous contents) are read
// from their size at that moment, which skips them, and a resumed attempt
// continues its step series in the new file SummaryWriter opens.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "metric_lines.h"
#include "record_framing.h"

namespace cadenza::script {

class TensorboardFollower {
 public:
  TensorboardFollower(std::string dir, Warn warn);
  void poll(const OnUpdate& on_update, bool final = false);

 private:
  std::string dir_;
  Warn warn_;
  std::map<std::string, uint64_t> start_sizes_;  // files there before the run
  std::map<std::string, std::unique_ptr<tensorboard::RecordFollower>> files_;
  int bad_events_ = 0;
};

}  // namespace cadenza::script
