#include "proto_reader.h"

#include <cstring>

#include "wire_fields.h"

namespace cadenza::tensorboard {

bool ProtoReader::read_varint(uint64_t& out) {
  out = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (rest_.empty()) return false;
    const auto byte = static_cast<uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    out |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return true;
  }
  return false;
}

bool ProtoReader::next() {
  if (!ok_ || rest_.empty()) return false;
  uint64_t key = 0;
  if (!read_varint(key)) return ok_ = false;
  field_ = static_cast<int>(key >> 3);
  wire_type_ = static_cast<int>(key & 7);
  number_ = 0;
  bytes_ = {};
  size_t size = 0;
  switch (wire_type_) {
    case wire::kVarint: return ok_ = read_varint(number_);
    case wire::kFixed64: size = 8; break;
    case wire::kFixed32: size = 4; break;
    case wire::kLengthDelimited: {
      uint64_t length = 0;
      if (!read_varint(length) || length > rest_.size()) return ok_ = false;
      size = static_cast<size_t>(length);
      break;
    }
    default: return ok_ = false;  // groups (3, 4) are long gone from these protos
  }
  if (size > rest_.size()) return ok_ = false;
  bytes_ = rest_.substr(0, size);
  rest_.remove_prefix(size);
  if (wire_type_ != wire::kLengthDelimited)
    for (size_t i = 0; i < size; ++i) number_ |= static_cast<uint64_t>(static_cast<uint8_t>(bytes_[i])) << (8 * i);
  return true;
}

double ProtoReader::as_double() const {
  double d;
  std::memcpy(&d, &number_, sizeof d);  // little-endian on the wire, assembled above
  return d;
}

float ProtoReader::as_float() const {
  const auto bits = static_cast<uint32_t>(number_);
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

}  // namespace cadenza::tensorboard
