// CRC-32C (Castagnoli), as TFRecord framing uses it, and its "mask".
#pragma once

#include <cstddef>
#include <cstdint>

namespace cadenza::tensorboard {

// Reflected polynomial 0x82F63B78, init and final xor 0xFFFFFFFF:
// crc32c("123456789") == 0xE3069283.
uint32_t crc32c(const void* data, size_t size);

// TFRecord stores masked CRCs: ((c >> 15) | (c << 17)) + 0xa282ead8.
uint32_t masked_crc32c(const void* data, size_t size);

}  // namespace cadenza::tensorboard
