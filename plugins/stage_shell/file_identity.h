// What tells one version of a file from the next without reading it: inode,
// size and modification time ("" when there is no file). A channel notes
// it when the stage starts, so a file an earlier run left is not taken for
// this run's until it is written again.
#pragma once

#include <sys/stat.h>

#include <string>

namespace cadenza::script {

inline std::string file_identity(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "";
  return std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) +
         "." + std::to_string(st.st_mtim.tv_nsec);
}

}  // namespace cadenza::script
