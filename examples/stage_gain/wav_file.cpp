#include "wav_file.h"

#include <cadenza/sdk/error.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>

namespace gain_example {

namespace {

using cadenza::sdk::PluginError;

uint32_t le32(const unsigned char* p) { return p[0] | p[1] << 8 | p[2] << 16 | uint32_t(p[3]) << 24; }
uint16_t le16(const unsigned char* p) { return uint16_t(p[0] | p[1] << 8); }
void put32(std::string& s, uint32_t v) { for (int i = 0; i < 4; ++i) s += char((v >> (8 * i)) & 0xff); }
void put16(std::string& s, uint16_t v) { for (int i = 0; i < 2; ++i) s += char((v >> (8 * i)) & 0xff); }

}  // namespace

Audio read_wav(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw PluginError(path + ": cannot open");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < 12 || std::memcmp(b, "RIFF", 4) || std::memcmp(b + 8, "WAVE", 4))
    throw PluginError(path + ": not a WAV file (no RIFF/WAVE header)");
  Audio audio;
  int bits = 0, format = 0;
  size_t pos = 12;
  while (pos + 8 <= bytes.size()) {
    const uint32_t size = le32(b + pos + 4);
    const unsigned char* body = b + pos + 8;
    if (pos + 8 + size > bytes.size()) throw PluginError(path + ": truncated chunk");
    if (!std::memcmp(b + pos, "fmt ", 4)) {
      format = le16(body);
      audio.channels = le16(body + 2);
      audio.sample_rate = static_cast<int>(le32(body + 4));
      bits = le16(body + 14);
    } else if (!std::memcmp(b + pos, "data", 4)) {
      if (format == 1 && bits == 16) {
        audio.samples.resize(size / 2);
        for (size_t i = 0; i < audio.samples.size(); ++i)
          audio.samples[i] = static_cast<int16_t>(le16(body + 2 * i)) / 32768.0f;
      } else if (format == 3 && bits == 32) {
        audio.is_float = true;
        audio.samples.resize(size / 4);
        std::memcpy(audio.samples.data(), body, audio.samples.size() * 4);
      } else {
        throw PluginError(path + ": unsupported WAV encoding (format " + std::to_string(format) +
                          ", " + std::to_string(bits) + " bits); use 16-bit PCM or 32-bit float");
      }
      return audio;
    }
    pos += 8 + size + (size & 1);
  }
  throw PluginError(path + ": no data chunk");
}

void write_wav(const std::string& path, const Audio& audio) {
  const uint16_t bytes_per_sample = audio.is_float ? 4 : 2;
  const uint32_t data_size = static_cast<uint32_t>(audio.samples.size() * bytes_per_sample);
  std::string out = "RIFF";
  put32(out, 36 + data_size);
  out += "WAVEfmt ";
  put32(out, 16);
  put16(out, audio.is_float ? 3 : 1);
  put16(out, static_cast<uint16_t>(audio.channels));
  put32(out, static_cast<uint32_t>(audio.sample_rate));
  put32(out, static_cast<uint32_t>(audio.sample_rate * audio.channels * bytes_per_sample));
  put16(out, static_cast<uint16_t>(audio.channels * bytes_per_sample));
  put16(out, static_cast<uint16_t>(bytes_per_sample * 8));
  out += "data";
  put32(out, data_size);
  for (float s : audio.samples) {
    if (audio.is_float) {
      out.append(reinterpret_cast<const char*>(&s), 4);
    } else {
      const float c = std::clamp(s, -1.0f, 1.0f);
      put16(out, static_cast<uint16_t>(static_cast<int16_t>(std::lround(c * 32767.0f))));
    }
  }
  std::ofstream f(path, std::ios::binary);
  f.write(out.data(), static_cast<std::streamsize>(out.size()));
  if (!f) throw PluginError(path + ": cannot write");
}

}  // namespace gain_example
