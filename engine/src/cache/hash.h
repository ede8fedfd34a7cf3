// Content hashes: XXH3-128 (Debian's libxxhash).
//
// Why XXH3-128: it hashes at memory bandwidth (tens of GB/s per core, far
// above any disk and above `cat`), so hashing never becomes the bottleneck
// that md5 is for DVC (~0.6 GB/s); 128 bits make accidental collisions
// irrelevant at any cache size. It is not a cryptographic hash: a cache is
// shared among people who trust each other, as with ninja or ccache.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace cadenza {

struct Hash128 {
  uint64_t high = 0;
  uint64_t low = 0;

  // 32 lower-case hex digits.
  std::string hex() const;
  // Throws Error if `text` is not 32 hex digits.
  static Hash128 from_hex(std::string_view text);
  bool operator==(const Hash128& o) const { return high == o.high && low == o.low; }
  bool operator!=(const Hash128& o) const { return !(*this == o); }
  bool empty() const { return high == 0 && low == 0; }
};

// Streaming XXH3-128 (the fastest kernel this CPU supports).
class Hasher {
 public:
  Hasher();
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;
  void update(const void* data, size_t size);
  Hash128 digest() const;

 private:
  void* state_;
};

Hash128 hash_bytes(std::string_view data);

// Streams a file through XXH3-128. Throws Error naming the path. `size`
// receives the number of bytes hashed when not null.
Hash128 hash_file(const std::string& path, uint64_t* size = nullptr);

}  // namespace cadenza
