// TFRecord framing, as TensorBoard event files use it: each record is
//   uint64 length (little-endian) | uint32 masked crc32c(length bytes)
//   | payload | uint32 masked crc32c(payload)
// (masked_crc32c in crc32c.h). The writer's framing and the reader's
// checks live here together.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace cadenza::tensorboard {

// The framed bytes of one record.
std::string frame_record(std::string_view payload);

// Follows a file another process appends records to, reading only what
// was added since the last call. Memory is bounded by one read chunk plus
// one record, however large the file grows.
class RecordFollower {
 public:
  static constexpr uint64_t kMaxRecordBytes = 64ull << 20;  // longer: taken for a corrupt length
  static constexpr size_t kChunkBytes = 1 << 20;

  using OnRecord = std::function<void(std::string_view payload)>;
  using Warn = std::function<void(const std::string&)>;

  // `offset`: where to start (the file's size at the start of a run skips
  // what an earlier run wrote).
  RecordFollower(std::string path, uint64_t offset, Warn warn);

  // Hands every complete, intact record to `on_record`. A record cut off at
  // the end waits for the next call. A record whose data checksum fails is
  // skipped; bytes whose length checksum fails are skipped until a valid
  // header; each with one warning naming the file and byte offset. With
  // `final` (the writer is gone), a cut-off tail is reported and dropped.
  void poll(const OnRecord& on_record, bool final = false);

  uint64_t offset() const { return base_ + consumed_; }  // of the next unread record
  size_t peak_buffer_bytes() const { return peak_; }

 private:
  // Frames what is buffered; returns when it needs more bytes.
  void take_records(const OnRecord& on_record);
  void warn_corrupt(const std::string& what);

  std::string path_;
  Warn warn_;
  uint64_t base_;          // file offset of buffer_[0]
  uint64_t read_to_;       // file offset read up to
  std::string buffer_;
  size_t consumed_ = 0;    // bytes of buffer_ already framed
  bool in_corrupt_stretch_ = false;
  size_t peak_ = 0;
};

}  // namespace cadenza::tensorboard
