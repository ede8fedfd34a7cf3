#include "proto_writer.h"

#include <cstring>

namespace cadenza::tensorboard {

void ProtoWriter::varint(uint64_t value) {
  while (value >= 0x80) {
    out_ += static_cast<char>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  out_ += static_cast<char>(value);
}

void ProtoWriter::varint_field(int field, uint64_t value) {
  tag(field, 0);
  varint(value);
}

void ProtoWriter::double_field(int field, double value) {
  tag(field, 1);
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  for (int i = 0; i < 8; ++i) out_ += static_cast<char>((bits >> (8 * i)) & 0xff);
}

void ProtoWriter::float_field(int field, float value) {
  tag(field, 5);
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  for (int i = 0; i < 4; ++i) out_ += static_cast<char>((bits >> (8 * i)) & 0xff);
}

void ProtoWriter::bytes_field(int field, std::string_view value) {
  tag(field, 2);
  varint(value.size());
  out_.append(value.data(), value.size());
}

}  // namespace cadenza::tensorboard
