#include "hash.h"

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "error.h"

namespace cadenza {

std::string Hash128::hex() const {
  static const char* digits = "0123456789abcdef";
  std::string out(32, '0');
  for (int i = 0; i < 16; ++i) {
    out[15 - i] = digits[(high >> (4 * i)) & 0xf];
    out[31 - i] = digits[(low >> (4 * i)) & 0xf];
  }
  return out;
}

Hash128 Hash128::from_hex(std::string_view text) {
  if (text.size() != 32) throw Error("not a 32-digit hash: '" + std::string(text) + "'");
  Hash128 h;
  for (size_t i = 0; i < 32; ++i) {
    const char c = text[i];
    uint64_t v;
    if (c >= '0' && c <= '9') v = static_cast<uint64_t>(c - '0');
    else if (c >= 'a' && c <= 'f') v = static_cast<uint64_t>(c - 'a' + 10);
    else throw Error("not a 32-digit hash: '" + std::string(text) + "'");
    uint64_t& part = i < 16 ? h.high : h.low;
    part = (part << 4) | v;
  }
  return h;
}

Hash128 hash_bytes(std::string_view data) {
  const XXH128_hash_t h = XXH3_128bits(data.data(), data.size());
  return {h.high64, h.low64};
}

Hash128 hash_file(const std::string& path, uint64_t* size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot read " + path + ": " + std::strerror(errno));
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  XXH3_state_t* state = XXH3_createState();
  XXH3_128bits_reset(state);
  // 1 MiB reads: large enough that syscalls cost nothing, small enough to
  // stay in L2/L3 between read() and the hash.
  constexpr size_t kChunk = 1 << 20;
  std::unique_ptr<char[]> buf(new char[kChunk]);
  uint64_t total = 0;
  while (true) {
    const ssize_t n = ::read(fd, buf.get(), kChunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string why = std::strerror(errno);
      XXH3_freeState(state);
      ::close(fd);
      throw Error("cannot read " + path + ": " + why);
    }
    if (n == 0) break;
    XXH3_128bits_update(state, buf.get(), static_cast<size_t>(n));
    total += static_cast<uint64_t>(n);
  }
  const XXH128_hash_t h = XXH3_128bits_digest(state);
  XXH3_freeState(state);
  ::close(fd);
  if (size) *size = total;
  return {h.high64, h.low64};
}

}  // namespace cadenza
