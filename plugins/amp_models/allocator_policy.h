// How the training and export processes ask glibc to treat large buffers.
#pragma once

namespace cadenza::amp {

// LibTorch's CPU allocator takes every tensor buffer from glibc malloc,
// which serves blocks above its mmap threshold with a fresh mmap and unmaps
// them on free: each training step then page-faults all its large buffers in
// again. Measured on the 2-core VM: the windowed model's steps ran at 40k
// samples/s with the defaults and 100-124k with this policy, which raises the
// mmap threshold to 32 MB and keeps up to 512 MB of freed heap for reuse.
// Process-wide; call once before training (a stage has its own process).
void keep_freed_buffers_for_reuse();

}  // namespace cadenza::amp
