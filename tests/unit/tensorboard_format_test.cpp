// sink_tensorboard's encoding against golden bytes computed independently
// (TensorBoard's own readers; see README's TensorBoard section).
#include <gmock/gmock.h>

#include "crc32c.h"
#include "event_writer.h"
#include "tensorboard_events.h"

namespace cadenza::tensorboard {
namespace {

std::string hex(const std::string& bytes) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    if (!out.empty()) out += ' ';
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

TEST(TensorBoardFormat, Crc32cTestVectors) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  const std::string zeros(32, '\0');
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);
}

TEST(TensorBoardFormat, GoldenFileVersionRecord) {
  EXPECT_EQ(hex(frame_record(file_version_event(1700000000.0))),
            "18 00 00 00 00 00 00 00 a3 7f 4b 22 09 00 00 00 40 fc 54 d9 41 1a 0d 62 72 61 69 6e 2e "
            "45 76 65 6e 74 3a 32 ec ed 8f 9d");
}

TEST(TensorBoardFormat, GoldenScalarRecord) {
  EXPECT_EQ(hex(frame_record(scalar_event(1700000000.5, 3, "loss", 0.25f))),
            "1a 00 00 00 00 00 00 00 12 9b d8 2d 09 00 00 20 40 fc 54 d9 41 10 03 2a 0d 0a 0b 0a 04 "
            "6c 6f 73 73 15 00 00 80 3e bc f2 9b 54");
}

TEST(TensorBoardFormat, GoldenSessionEndContent) {
  EXPECT_EQ(hex(session_end_content(1700000100.0, SessionStatus::kSuccess)),
            "22 0b 08 01 11 00 00 00 59 fc 54 d9 41");
}

TEST(TensorBoardFormat, WavHeaderAndClipping) {
  const float samples[4] = {0.0f, 1.0f, -1.0f, 2.0f};
  const std::string wav = wav_pcm16(samples, 4, 1, 8000);
  ASSERT_EQ(wav.size(), 44u + 8u);
  EXPECT_EQ(wav.substr(0, 4), "RIFF");
  EXPECT_EQ(hex(wav.substr(44)), "00 00 ff 7f 01 80 ff 7f");  // 2.0 clipped to 32767
}

}  // namespace
}  // namespace cadenza::tensorboard
