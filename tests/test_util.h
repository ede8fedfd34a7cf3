// Helpers shared by the unit and end-to-end tests.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "error.h"
#include "fs_util.h"

namespace cadenza::test {

namespace fs = std::filesystem;

// A fresh directory under the system temp dir, removed at scope exit.
class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("cadenza-test-" + unique_suffix());
    fs::create_directories(path_);
  }
  ~TempDir() { remove_all_quietly(path_); }
  const fs::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

  // Writes `content` to path()/rel, creating parents; returns the full path.
  std::string write(const std::string& rel, const std::string& content) const {
    fs::path p = path_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }
  std::string read(const std::string& rel) const { return read_file(path_ / rel); }
  bool exists(const std::string& rel) const { return fs::exists(path_ / rel); }

 private:
  fs::path path_;
};

// Runs `fn` and returns the message of the cadenza::Error it throws; fails
// the test if it throws nothing.
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a cadenza::Error";
  return "";
}

inline std::string test_plugin_dir() { return CADENZA_TEST_PLUGIN_DIR; }
inline std::string plugin_dir() { return CADENZA_PLUGIN_DIR; }
inline std::string cadenza_binary() { return CADENZA_BINARY; }

}  // namespace cadenza::test
