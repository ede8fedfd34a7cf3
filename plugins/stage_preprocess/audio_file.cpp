#include "audio_file.h"

namespace cadenza::preprocess {

AudioReader::AudioReader(const std::string& path) : path_(path) {
  file_ = sf_open(path.c_str(), SFM_READ, &info_);
  if (!file_)
    throw AudioError(path + ": cannot read audio (" + std::string(sf_strerror(nullptr)) +
                     "); use a format libsndfile reads (WAV, FLAC, AIFF, ...)");
  if (info_.frames <= 0) {
    sf_close(file_);
    file_ = nullptr;
    throw AudioError(path + ": the recording is empty (0 frames)");
  }
}

AudioReader::~AudioReader() {
  if (file_) sf_close(file_);
}

void AudioReader::seek(int64_t frame) {
  if (sf_seek(file_, frame, SEEK_SET) < 0) throw AudioError(path_ + ": cannot seek to frame " + std::to_string(frame));
}

size_t AudioReader::read_mono(std::vector<float>& out, size_t max_frames, int channel) {
  const int ch = info_.channels;
  interleaved_.resize(max_frames * static_cast<size_t>(ch));
  const sf_count_t n = sf_readf_float(file_, interleaved_.data(), static_cast<sf_count_t>(max_frames));
  if (n < 0) throw AudioError(path_ + ": read error: " + sf_strerror(file_));
  out.resize(static_cast<size_t>(n));
  for (sf_count_t f = 0; f < n; ++f) {
    const float* frame = interleaved_.data() + f * ch;
    if (channel >= 0) {
      out[static_cast<size_t>(f)] = frame[channel];
    } else {
      float sum = 0;
      for (int c = 0; c < ch; ++c) sum += frame[c];
      out[static_cast<size_t>(f)] = sum / static_cast<float>(ch);
    }
  }
  return static_cast<size_t>(n);
}

AudioWriter::AudioWriter(const std::string& path, int sample_rate) : path_(path) {
  SF_INFO info{};
  info.samplerate = sample_rate;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
  file_ = sf_open(path.c_str(), SFM_WRITE, &info);
  if (!file_) throw AudioError(path + ": cannot write (" + std::string(sf_strerror(nullptr)) + ")");
  sf_command(file_, SFC_SET_ADD_PEAK_CHUNK, nullptr, SF_FALSE);  // its timestamp made equal audio differ
}

AudioWriter::~AudioWriter() { close(); }

void AudioWriter::write(const float* samples, size_t frames) {
  if (sf_writef_float(file_, samples, static_cast<sf_count_t>(frames)) != static_cast<sf_count_t>(frames))
    throw AudioError(path_ + ": write error: " + sf_strerror(file_));
}

void AudioWriter::close() {
  if (file_ && sf_close(file_) != 0) {
    file_ = nullptr;
    throw AudioError(path_ + ": cannot finish writing");
  }
  file_ = nullptr;
}

}  // namespace cadenza::preprocess
