// Reading and writing audio with libsndfile, one block at a time: the
// preprocessing never holds a whole recording (or any windows of it) in
// memory, so its peak memory is a few blocks whatever the file's length.
#pragma once

#include <sndfile.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace cadenza::preprocess {

// Thrown with a message naming the file and the problem.
struct AudioError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class AudioReader {
 public:
  // Opens any format libsndfile reads (WAV PCM16/24/32/float, FLAC, AIFF…).
  explicit AudioReader(const std::string& path);
  ~AudioReader();
  AudioReader(const AudioReader&) = delete;
  AudioReader& operator=(const AudioReader&) = delete;

  int sample_rate() const { return info_.samplerate; }
  int channels() const { return info_.channels; }
  int64_t frames() const { return info_.frames; }
  const std::string& path() const { return path_; }

  void seek(int64_t frame);
  // Reads up to `max_frames` frames reduced to mono by `channel` (-1: the
  // mean of all channels). Returns the number of frames read (0 at the end).
  size_t read_mono(std::vector<float>& out, size_t max_frames, int channel);

 private:
  std::string path_;
  SF_INFO info_{};
  SNDFILE* file_ = nullptr;
  std::vector<float> interleaved_;
};

class AudioWriter {
 public:
  // A mono 32-bit float WAV.
  AudioWriter(const std::string& path, int sample_rate);
  ~AudioWriter();
  AudioWriter(const AudioWriter&) = delete;
  AudioWriter& operator=(const AudioWriter&) = delete;
  void write(const float* samples, size_t frames);
  void close();

 private:
  std::string path_;
  SNDFILE* file_ = nullptr;
};

}  // namespace cadenza::preprocess
