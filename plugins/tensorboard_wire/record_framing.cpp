#include "record_framing.h"

#include <fcntl.h>
#include <unistd.h>

#include "crc32c.h"

namespace cadenza::tensorboard {

namespace {

void put_le(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((value >> (8 * i)) & 0xff);
}

uint64_t get_le(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

constexpr size_t kHeader = 12, kFooter = 4;

}  // namespace

std::string frame_record(std::string_view payload) {
  std::string out;
  put_le(out, payload.size(), 8);
  put_le(out, masked_crc32c(out.data(), 8), 4);
  out.append(payload.data(), payload.size());
  put_le(out, masked_crc32c(payload.data(), payload.size()), 4);
  return out;
}

RecordFollower::RecordFollower(std::string path, uint64_t offset, Warn warn)
    : path_(std::move(path)), warn_(std::move(warn)), base_(offset), read_to_(offset) {}

void RecordFollower::warn_corrupt(const std::string& what) {
  if (in_corrupt_stretch_) return;  // one warning per stretch of bad bytes
  in_corrupt_stretch_ = true;
  warn_(path_ + ": " + what + " at byte " + std::to_string(offset()) + ": skipped");
}

void RecordFollower::take_records(const OnRecord& on_record) {
  while (buffer_.size() - consumed_ >= kHeader) {
    const char* h = buffer_.data() + consumed_;
    const uint64_t length = get_le(h, 8);
    if (get_le(h + 8, 4) != masked_crc32c(h, 8) || length > kMaxRecordBytes) {
      warn_corrupt("a record's length is corrupt");
      ++consumed_;  // look for the next valid header, byte by byte
      continue;
    }
    if (buffer_.size() - consumed_ < kHeader + length + kFooter) return;  // the rest is not written yet
    const std::string_view payload(h + kHeader, static_cast<size_t>(length));
    if (get_le(h + kHeader + length, 4) != masked_crc32c(payload.data(), payload.size())) {
      warn_corrupt("a record's data is corrupt");
      in_corrupt_stretch_ = false;  // its frame was sound: what follows is news
    } else {
      in_corrupt_stretch_ = false;
      on_record(payload);
    }
    consumed_ += kHeader + static_cast<size_t>(length) + kFooter;
  }
}

void RecordFollower::poll(const OnRecord& on_record, bool final) {
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    std::string chunk(kChunkBytes, '\0');
    ssize_t n;
    while ((n = ::pread(fd, chunk.data(), chunk.size(), static_cast<off_t>(read_to_))) > 0) {
      read_to_ += static_cast<uint64_t>(n);
      buffer_.erase(0, consumed_);  // keep only what is not framed yet
      base_ += consumed_;
      consumed_ = 0;
      buffer_.append(chunk.data(), static_cast<size_t>(n));
      peak_ = std::max(peak_, buffer_.capacity());
      take_records(on_record);
    }
    ::close(fd);
  }
  if (final && consumed_ < buffer_.size()) {
    warn_(path_ + ": the last record is cut off at byte " + std::to_string(offset()) +
          " (the writer ended while writing it): ignored");
    base_ += buffer_.size();
    buffer_.clear();
    consumed_ = 0;
  }
}

}  // namespace cadenza::tensorboard
