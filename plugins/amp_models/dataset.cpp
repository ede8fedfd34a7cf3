#include "dataset.h"

#include <sndfile.h>

#include <fstream>
#include <stdexcept>

namespace cadenza::amp {

Dataset Dataset::open(const std::string& dir) {
  Dataset d;
  d.dir = dir;
  const std::string path = dir + "/dataset.json";
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": missing; the dataset must come from stage_preprocess");
  try {
    d.meta = nlohmann::json::parse(in);
    d.sample_rate = d.meta.at("sample_rate").get<int>();
    const auto& norm = d.meta.at("normalization");
    d.input_gain = norm.at("input_gain").get<double>();
    d.target_gain = norm.at("target_gain").get<double>();
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path + ": not a dataset from stage_preprocess (" + e.what() + ")");
  }
  return d;
}

Split Dataset::read(const std::string& split) const {
  Split s;
  int rate_in = 0, rate_tgt = 0;
  s.input = read_wav_mono(dir + "/" + split + "_input.wav", &rate_in);
  s.target = read_wav_mono(dir + "/" + split + "_target.wav", &rate_tgt);
  if (rate_in != sample_rate || rate_tgt != sample_rate)
    throw std::runtime_error(dir + ": the " + split + " split's sample rate differs from dataset.json's " +
                             std::to_string(sample_rate) + " Hz");
  if (s.input.size() != s.target.size())
    throw std::runtime_error(dir + ": the " + split + " split's input and target differ in length");
  return s;
}

std::vector<float> read_wav_mono(const std::string& path, int* sample_rate) {
  SF_INFO info{};
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
  if (!f) throw std::runtime_error(path + ": cannot read (" + std::string(sf_strerror(nullptr)) + ")");
  if (info.channels != 1) {
    sf_close(f);
    throw std::runtime_error(path + ": expected mono audio, found " + std::to_string(info.channels) + " channels");
  }
  std::vector<float> out(static_cast<size_t>(info.frames));
  const sf_count_t n = sf_readf_float(f, out.data(), info.frames);
  sf_close(f);
  if (n != info.frames) throw std::runtime_error(path + ": truncated (read " + std::to_string(n) + " of " +
                                                 std::to_string(info.frames) + " frames)");
  *sample_rate = info.samplerate;
  return out;
}

void write_wav(const std::string& path, const std::vector<float>& samples, int sample_rate) {
  SF_INFO info{};
  info.samplerate = sample_rate;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  if (!f) throw std::runtime_error(path + ": cannot write (" + std::string(sf_strerror(nullptr)) + ")");
  sf_command(f, SFC_SET_ADD_PEAK_CHUNK, nullptr, SF_FALSE);  // its timestamp made equal audio differ
  const sf_count_t n = sf_writef_float(f, samples.data(), static_cast<sf_count_t>(samples.size()));
  const int rc = sf_close(f);
  if (n != static_cast<sf_count_t>(samples.size()) || rc != 0) throw std::runtime_error(path + ": write failed");
}

}  // namespace cadenza::amp
