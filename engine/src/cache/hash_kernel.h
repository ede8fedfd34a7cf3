// XXH3-128 compiled twice: for any x86-64 (SSE2) and for AVX2, chosen once at
// run time. Debian's libxxhash (0.8.1) dispatches at run time only behind its
// XXH3_*_dispatch entry points (xxh_x86dispatch); its plain XXH3_128bits*
// functions, which this engine was written against, are the baseline SSE2
// build. With AVX2 XXH3 runs about 1.5x faster, which is the difference
// between hashing slower than `cat` reads and keeping up with it. (Calling
// the library's XXH3_128bits_update_dispatch instead would make this file
// unnecessary; not done yet, as it needs the hashing benchmark rerun.)
#pragma once

#include <cstddef>
#include <cstdint>

namespace cadenza::detail {

struct HashKernel {
  void* (*create)();                 // a reset streaming state
  void (*update)(void* state, const void* data, size_t size);
  void (*digest)(const void* state, uint64_t* high, uint64_t* low);
  void (*destroy)(void* state);
};

const HashKernel& generic_hash_kernel();
const HashKernel& avx2_hash_kernel();  // only call if the CPU has AVX2

}  // namespace cadenza::detail
