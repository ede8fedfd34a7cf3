#include "tensorboard_files.h"

#include <filesystem>

#include "event_reader.h"

namespace cadenza::script {

namespace fs = std::filesystem;

namespace {

template <typename Fn>
void for_each_event_file(const std::string& dir, Fn&& fn) {
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename().string().find("tfevents") == std::string::npos) continue;
    std::error_code size_ec;
    const auto size = it->is_regular_file(size_ec) ? it->file_size(size_ec) : 0;
    if (!size_ec) fn(it->path().string(), static_cast<uint64_t>(size));
  }
}

}  // namespace

TensorboardFollower::TensorboardFollower(std::string dir, Warn warn) : dir_(std::move(dir)), warn_(std::move(warn)) {
  for_each_event_file(dir_, [&](const std::string& path, uint64_t size) { start_sizes_[path] = size; });
}

void TensorboardFollower::poll(const OnUpdate& on_update, bool final) {
  for_each_event_file(dir_, [&](const std::string& path, uint64_t) {
    auto& follower = files_[path];
    if (!follower) {
      auto old = start_sizes_.find(path);
      follower = std::make_unique<tensorboard::RecordFollower>(path, old == start_sizes_.end() ? 0 : old->second, warn_);
    }
    follower->poll(
        [&](std::string_view payload) {
          auto event = tensorboard::read_event(payload);
          if (!event) {
            if (bad_events_++ < 10) warn_(path + ": a record that is not a TensorBoard event: skipped");
            return;
          }
          if (event->scalars.empty() && event->audio.empty()) return;
          MetricUpdate u;
          u.step = event->step;
          for (auto& s : event->scalars) u.scalars.emplace_back(std::move(s.tag), s.value);
          for (auto& a : event->audio) u.encoded_audio.emplace_back(std::move(a.tag), std::move(a.encoded));
          on_update(std::move(u));
        },
        final);
  });
}

}  // namespace cadenza::script
