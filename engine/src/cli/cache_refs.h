// What cache objects an output needs (for gc, push and pull).
#pragma once

#include <set>
#include <string>

#include "content_store.h"
#include "lock_file.h"

namespace cadenza {

// Object paths (relative to objects/) that an output needs: the object, or a
// directory's manifest and every object it lists.
void add_refs(const ContentStore& store, const StoredOutput& out, std::set<std::string>* refs);
StoredOutput stored(const LockedPath& p);

}  // namespace cadenza
