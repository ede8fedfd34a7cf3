// The content hash of a directory container image (a root file system).
// Unlike a stage's output directory, an image is walked without following
// symlinks (a root file system links to /proc and /dev of whatever host reads
// it) and device nodes, FIFOs and sockets are hashed by what they are, never
// read (its /dev/zero would never end). Regular files go through the stat
// cache, so an unchanged image costs one lstat per entry and no reading.
#pragma once

#include <string>

#include "hash.h"
#include "stat_cache.h"

namespace cadenza {

// Throws Error naming the path when the tree cannot be read.
Hash128 image_tree_hash(const std::string& dir, StatCache& stats);

}  // namespace cadenza
