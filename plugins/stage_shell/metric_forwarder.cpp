#include "metric_forwarder.h"

#include <sndfile.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

namespace cadenza::script {

OnUpdate MetricForwarder::channel() {
  auto last_step = std::make_shared<int64_t>(0);
  return [this, last_step](MetricUpdate&& u) { apply(u, *last_step); };
}

Warn MetricForwarder::warn() {
  return [this](const std::string& message) { ctx_.log(sdk::LogLevel::kWarning, message); };
}

void MetricForwarder::apply(MetricUpdate& u, int64_t& last_step) {
  const int64_t step = u.step.value_or(last_step);
  last_step = step;
  for (const auto& [tag, value] : u.scalars) ctx_.metrics().scalar(tag, value, step);
  for (const auto& [tag, text] : u.texts) ctx_.metrics().text(tag, text, step);
  for (const auto& [tag, path] : u.audio) audio(tag, path, step);
  for (const auto& [tag, bytes] : u.encoded_audio) encoded_audio(tag, bytes, step);
  if (u.progress) {
    ctx_.progress(u.progress->done, u.progress->total, u.progress->unit);
    progress_ = u.progress;
    progress_stale_ = true;
    progress_at_ = std::chrono::steady_clock::now();
  }
}

void MetricForwarder::refresh_progress() {
  if (!progress_stale_ || std::chrono::steady_clock::now() - progress_at_ < std::chrono::milliseconds(600)) return;
  ctx_.progress(progress_->done, progress_->total, progress_->unit);  // past the engine's 500 ms: written
  progress_stale_ = false;
}

// A clip the script wrote: read here, so every sink gets samples as from a
// plugin. A clip that cannot be read is a warning, never a failed stage.
void MetricForwarder::audio(const std::string& tag, const std::string& path, int64_t step) {
  const std::string full = path.front() == '/' ? path : cwd_ + "/" + path;
  SF_INFO info{};
  SNDFILE* file = sf_open(full.c_str(), SFM_READ, &info);
  if (!file) {
    ctx_.log(sdk::LogLevel::kWarning, "audio \"" + tag + "\": cannot read " + full + ": " + sf_strerror(nullptr));
    return;
  }
  emit_audio(tag, file, info, full, step);
}

namespace {

// libsndfile's virtual I/O over bytes in memory (a clip from an event file).
struct Memory {
  const std::string& bytes;
  sf_count_t at = 0;
};
sf_count_t mem_length(void* m) { return static_cast<sf_count_t>(static_cast<Memory*>(m)->bytes.size()); }
sf_count_t mem_tell(void* m) { return static_cast<Memory*>(m)->at; }
sf_count_t mem_seek(sf_count_t offset, int whence, void* m) {
  auto* mem = static_cast<Memory*>(m);
  const sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? mem->at : mem_length(m);
  mem->at = std::clamp<sf_count_t>(base + offset, 0, mem_length(m));
  return mem->at;
}
sf_count_t mem_read(void* out, sf_count_t count, void* m) {
  auto* mem = static_cast<Memory*>(m);
  const sf_count_t n = std::min(count, mem_length(m) - mem->at);
  std::memcpy(out, mem->bytes.data() + mem->at, static_cast<size_t>(n));
  mem->at += n;
  return n;
}
sf_count_t mem_write(const void*, sf_count_t, void*) { return 0; }

}  // namespace

void MetricForwarder::encoded_audio(const std::string& tag, const std::string& bytes, int64_t step) {
  SF_VIRTUAL_IO io{mem_length, mem_seek, mem_read, mem_write, mem_tell};
  Memory memory{bytes};
  SF_INFO info{};
  SNDFILE* file = sf_open_virtual(&io, SFM_READ, &info, &memory);
  if (!file) {
    ctx_.log(sdk::LogLevel::kWarning, "audio \"" + tag + "\" at step " + std::to_string(step) +
                                          ": the clip in the event file is not audio libsndfile reads: skipped");
    return;
  }
  emit_audio(tag, file, info, "the clip in the event file", step);
}

void MetricForwarder::emit_audio(const std::string& tag, SNDFILE* file, const SF_INFO& info, const std::string& what,
                                 int64_t step) {
  std::vector<float> samples(static_cast<size_t>(info.frames) * static_cast<size_t>(info.channels));
  const sf_count_t got = sf_readf_float(file, samples.data(), info.frames);
  sf_close(file);  // read-only: nothing to lose if it fails
  if (got != info.frames) {
    ctx_.log(sdk::LogLevel::kWarning, "audio \"" + tag + "\": " + what + " ended early (" + std::to_string(got) +
                                          " of " + std::to_string(info.frames) + " frames)");
    return;
  }
  ctx_.metrics().audio(tag, samples.data(), static_cast<size_t>(info.frames), info.channels, info.samplerate, step);
}

}  // namespace cadenza::script
