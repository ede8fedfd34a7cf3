#include "event_writer.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "tensorboard_events.h"

namespace cadenza::tensorboard {

namespace {

std::atomic<unsigned> g_writers{0};

}  // namespace

void replace_event_file(const std::string& path, double wall_time, const std::vector<std::string>& events) {
  const std::filesystem::path target(path);
  std::filesystem::create_directories(target.parent_path());
  // Not a "tfevents" name: TensorBoard never reads the file half-written.
  const std::string tmp = (target.parent_path() / (".cadenza-tmp-" + std::to_string(::getpid()) + "-" +
                                                   std::to_string(g_writers.fetch_add(1))))
                              .string();
  std::string bytes = frame_record(file_version_event(wall_time));
  for (const auto& e : events) bytes += frame_record(e);
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  bool ok = f && std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size() && std::fflush(f) == 0;
  const int saved = errno;
  if (f) std::fclose(f);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int why = ok ? errno : saved;
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot write " + path + ": " + std::strerror(why));
  }
}

EventWriter::EventWriter(const std::string& run_dir, double wall_time) {
  std::filesystem::create_directories(run_dir);
  char host[256] = "localhost";
  ::gethostname(host, sizeof host - 1);
  char name[512];
  std::snprintf(name, sizeof name, "events.out.tfevents.%010lld.%s.%d.%u",
                static_cast<long long>(wall_time), host, static_cast<int>(::getpid()),
                g_writers.fetch_add(1));
  path_ = run_dir + "/" + name;
  file_ = std::fopen(path_.c_str(), "wbx");  // x: never reuse an existing file
  if (!file_) throw std::runtime_error("cannot create " + path_ + ": " + std::strerror(errno));
  write(file_version_event(wall_time));
}

EventWriter::~EventWriter() {
  if (file_) std::fclose(file_);
}

void EventWriter::write(std::string_view event_bytes) {
  const std::string record = frame_record(event_bytes);
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size() || std::fflush(file_) != 0)
    throw std::runtime_error("cannot write " + path_ + ": " + std::strerror(errno));
}

}  // namespace cadenza::tensorboard
