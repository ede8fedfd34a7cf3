// One TensorBoard event file: TFRecord framing around serialized Events.
//
// The file is named events.out.tfevents.<10-digit seconds>.<host>.<pid>.<n>,
// where n counts writers in this process, so two writers never collide, in
// the same second or across processes. Every record is flushed when written,
// so TensorBoard reads a run live while it trains.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "record_framing.h"  // frame_record

namespace cadenza::tensorboard {

// Writes a whole event file (file_version first, then `events`) under a
// temporary name and renames it over `path`: a reader sees the old file or
// the new one, never half of one. For the small files a sink rewrites (an
// experiment's HParams session). Throws std::runtime_error naming the path.
void replace_event_file(const std::string& path, double wall_time, const std::vector<std::string>& events);

class EventWriter {
 public:
  // Creates the directory and the file, and writes the file_version event.
  // Throws std::runtime_error naming the path on failure.
  explicit EventWriter(const std::string& run_dir, double wall_time);
  ~EventWriter();
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;

  void write(std::string_view event_bytes);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace cadenza::tensorboard
