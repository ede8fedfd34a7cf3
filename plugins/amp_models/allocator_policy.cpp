#include "allocator_policy.h"

#include <malloc.h>

namespace cadenza::amp {

void keep_freed_buffers_for_reuse() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's maximum on 64-bit; also stops its dynamic adjustment
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
}

}  // namespace cadenza::amp
