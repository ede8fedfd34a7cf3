// Small file-system helpers shared by the engine's on-disk formats.
//
// The one rule they exist for: a file another process may read (lock file,
// job spec, result, cache entry) is written to a temporary file in the same
// directory and renamed into place, so a reader sees the old or the new
// content, never half of it, even if the writer is killed mid-write.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace cadenza {

namespace fs = std::filesystem;

enum class Durability {
  kInPlace,     // plain write: for files nobody reads until the writer exited
  kRenameOnly,  // atomic against readers and crashes of this process
  kFsync,       // also against power loss: for the lock file
};

// Writes `content` to `path` atomically (temp file, optional fsync, rename).
// Creates the parent directory. Throws Error naming the path on failure.
void write_file_atomic(const fs::path& path, std::string_view content,
                       Durability durability = Durability::kFsync);

// Reads a whole file. Throws Error naming the path if it cannot.
std::string read_file(const fs::path& path);

// A name unique to this process and call, for temporary files and run ids.
std::string unique_suffix();

// Lexically normalises a workspace-relative path ("a/./b/../c" -> "a/c").
// Returns an empty string if the path is absolute or leaves the workspace
// ("../x"): callers turn that into an error naming the field.
std::string normalize_relative(std::string_view path);

// True if `inner` equals `outer` or lies inside it (both normalised,
// relative): "data/x" is inside "data", "database" is not.
bool path_within(std::string_view inner, std::string_view outer);

// "" if writing `rel` (workspace-relative) stays inside `workspace`, else
// why not: the path is absolute or leaves it with "..", or a directory on the
// way is a symlink that leads outside (a committed symlink must not make
// `run` or `checkout` write anywhere the user can).
std::string path_escape(const std::string& workspace, const std::string& rel);

// Removes a file or directory tree if it exists; never throws.
void remove_all_quietly(const fs::path& path);

// Opens an append-only log of JSON lines (events.jsonl, index.jsonl) for
// appending; the caller closes the fd. A torn last line left by a writer
// killed mid-write is ended first, so it cannot swallow the next line;
// readers skip it. Throws Error.
int open_append_log(const std::string& path);
// Appends `line` + '\n' in one write(2): whole lines from concurrent writers.
void append_log_line(const std::string& path, const std::string& line);

// Absolute path of the cadenza binary: $CADENZA_EXECUTABLE when set (a test
// or tool that links the engine names the real binary), else this process's
// own executable (/proc/self/exe). Jobs and helper processes run it.
fs::path current_executable();

}  // namespace cadenza
