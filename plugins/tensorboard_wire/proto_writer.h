// A minimal protocol-buffers wire-format writer: enough to encode the few
// TensorBoard messages the sink writes (field numbers in
// tensorboard_events.cpp). Integers are encoded byte by byte, so the output
// does not depend on the host's endianness.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cadenza::tensorboard {

class ProtoWriter {
 public:
  void varint_field(int field, uint64_t value);      // wire type 0
  void double_field(int field, double value);        // wire type 1
  void float_field(int field, float value);          // wire type 5
  void bytes_field(int field, std::string_view value);  // wire type 2 (strings, messages)
  void message_field(int field, const ProtoWriter& message) { bytes_field(field, message.bytes()); }

  const std::string& bytes() const { return out_; }

 private:
  void varint(uint64_t value);
  void tag(int field, int wire_type) { varint(static_cast<uint64_t>(field) << 3 | static_cast<uint64_t>(wire_type)); }
  std::string out_;
};

}  // namespace cadenza::tensorboard
