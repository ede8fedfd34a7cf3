// Compiled with -mavx2 (see engine/CMakeLists.txt); used only when the CPU
// reports AVX2.
#define CADENZA_HASH_KERNEL_NAME avx2_hash_kernel
#include "hash_kernel.inc"
