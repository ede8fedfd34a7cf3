// A minimal protocol-buffers wire-format reader, the counterpart of
// proto_writer.h: walks a message's fields in order. Unknown fields are
// skipped by their wire type, so newer writers' extra fields are harmless.
#pragma once

#include <cstdint>
#include <string_view>

namespace cadenza::tensorboard {

class ProtoReader {
 public:
  explicit ProtoReader(std::string_view bytes) : rest_(bytes) {}

  // Moves to the next field; false at the end or on malformed bytes (then
  // ok() is false).
  bool next();
  bool ok() const { return ok_; }
  int field() const { return field_; }
  int wire_type() const { return wire_type_; }

  // The current field's value, by its wire type.
  uint64_t varint() const { return number_; }
  double as_double() const;  // fixed64
  float as_float() const;    // fixed32
  std::string_view bytes() const { return bytes_; }  // length-delimited

 private:
  bool read_varint(uint64_t& out);
  std::string_view rest_;
  bool ok_ = true;
  int field_ = 0, wire_type_ = 0;
  uint64_t number_ = 0;
  std::string_view bytes_;
};

}  // namespace cadenza::tensorboard
