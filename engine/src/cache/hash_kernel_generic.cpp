#define CADENZA_HASH_KERNEL_NAME generic_hash_kernel
#include "hash_kernel.inc"
