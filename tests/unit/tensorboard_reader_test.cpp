// Reading TensorBoard event files back (plugins/tensorboard_wire): the
// framing's checks, both scalar forms, audio, skipped fields, and a large
// file read incrementally in bounded memory.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "event_reader.h"
#include "proto_writer.h"
#include "record_framing.h"
#include "test_util.h"
#include "wire_fields.h"

namespace cadenza::tensorboard {
namespace {

using ::testing::HasSubstr;
namespace w = wire;

std::string unhex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

// Event{wall_time: 1.5, step: 3, summary{value{tag: "a", simple_value: 0.5}}},
// encoded by hand from event.proto/summary.proto, and its TFRecord frame
// (length 23, masked CRC-32Cs worked out independently).
const char* kGoldenEvent = "09000000000000f83f10032a0a0a080a0161150000003f";
const char* kGoldenFrame = "1700000000000000e7cef81e09000000000000f83f10032a0a0a080a0161150000003fde5768cd";

TEST(TensorboardWire, TheGoldenRecordIsWhatTheWriterFramesAndTheReaderReads) {
  ProtoWriter value;
  value.bytes_field(w::value::kTag, "a");
  value.float_field(w::value::kSimpleValue, 0.5f);
  ProtoWriter summary;
  summary.message_field(w::summary::kValue, value);
  ProtoWriter event;
  event.double_field(w::event::kWallTime, 1.5);
  event.varint_field(w::event::kStep, 3);
  event.message_field(w::event::kSummary, summary);
  EXPECT_EQ(event.bytes(), unhex(kGoldenEvent));
  EXPECT_EQ(frame_record(event.bytes()), unhex(kGoldenFrame));
  auto e = read_event(unhex(kGoldenEvent));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->step, 3);
  EXPECT_EQ(e->wall_time, 1.5);
  ASSERT_EQ(e->scalars.size(), 1u);
  EXPECT_EQ(e->scalars[0].tag, "a");
  EXPECT_EQ(e->scalars[0].value, 0.5);
}

std::string tensor_scalar_event(int dtype, bool as_content, double v) {
  ProtoWriter pd;
  pd.bytes_field(w::plugin_data::kPluginName, "scalars");
  ProtoWriter md;
  md.message_field(w::metadata::kPluginData, pd);
  ProtoWriter t;
  t.varint_field(w::tensor::kDtype, static_cast<uint64_t>(dtype));
  const float f = static_cast<float>(v);
  std::string raw = dtype == w::kDtFloat ? std::string(reinterpret_cast<const char*>(&f), 4)
                                         : std::string(reinterpret_cast<const char*>(&v), 8);
  t.bytes_field(as_content ? w::tensor::kContent : (dtype == w::kDtFloat ? w::tensor::kFloatVal : w::tensor::kDoubleVal),
                raw);  // a packed repeated field of one value, or the raw content
  ProtoWriter value;
  value.bytes_field(w::value::kTag, "loss");
  value.message_field(w::value::kMetadata, md);
  value.message_field(w::value::kTensor, t);
  value.varint_field(99, 7);  // a field from the future: skipped
  ProtoWriter summary;
  summary.message_field(w::summary::kValue, value);
  ProtoWriter event;
  event.varint_field(w::event::kStep, 12);
  event.message_field(w::event::kSummary, summary);
  event.bytes_field(42, "unknown");  // skipped too
  return event.bytes();
}

TEST(TensorboardWire, TensorScalarsOfFloatAndDoubleInBothEncodings) {
  for (int dtype : {w::kDtFloat, w::kDtDouble})
    for (bool as_content : {false, true}) {
      auto e = read_event(tensor_scalar_event(dtype, as_content, 0.25));
      ASSERT_TRUE(e) << dtype << as_content;
      ASSERT_EQ(e->scalars.size(), 1u) << dtype << as_content;
      EXPECT_EQ(e->scalars[0].value, 0.25);
      EXPECT_EQ(e->step, 12);
    }
}

TEST(TensorboardWire, AudioInBothFormsAndOtherSummariesSkipped) {
  ProtoWriter audio;
  audio.float_field(w::audio::kSampleRate, 8000);
  audio.bytes_field(w::audio::kEncoded, "RIFF-old-style");
  ProtoWriter v1;
  v1.bytes_field(w::value::kTag, "Audio/prediction");
  v1.message_field(w::value::kAudio, audio);
  ProtoWriter pd;
  pd.bytes_field(w::plugin_data::kPluginName, "audio");
  ProtoWriter md;
  md.message_field(w::metadata::kPluginData, pd);
  ProtoWriter t;
  t.varint_field(w::tensor::kDtype, w::kDtString);
  t.bytes_field(w::tensor::kStringVal, "RIFF-plugin");
  t.bytes_field(w::tensor::kStringVal, "label");
  ProtoWriter v2;
  v2.bytes_field(w::value::kTag, "Audio/target");
  v2.message_field(w::value::kMetadata, md);
  v2.message_field(w::value::kTensor, t);
  ProtoWriter histo;
  histo.bytes_field(w::value::kTag, "weights");
  histo.bytes_field(5, "histogram bytes");
  ProtoWriter summary;
  for (const auto* v : {&v1, &v2, &histo}) summary.message_field(w::summary::kValue, *v);
  ProtoWriter event;
  event.message_field(w::event::kSummary, summary);
  auto e = read_event(event.bytes());
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->scalars.empty());
  ASSERT_EQ(e->audio.size(), 2u);
  EXPECT_EQ(e->audio[0].encoded, "RIFF-old-style");
  EXPECT_EQ(e->audio[1].tag, "Audio/target");
  EXPECT_EQ(e->audio[1].encoded, "RIFF-plugin");
  EXPECT_FALSE(read_event("\x0a\x05ab"));  // a length past the end: not an Event
}

struct Collected {
  std::vector<std::string> records, warnings;
  RecordFollower::OnRecord on() {
    return [this](std::string_view p) { records.emplace_back(p); };
  }
  RecordFollower::Warn warn() {
    return [this](const std::string& m) { warnings.push_back(m); };
  }
};

void append(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::app | std::ios::binary) << bytes;
}

TEST(RecordFollower, ATornTailWaitsAndCorruptRecordsAreSkippedWithTheirOffsets) {
  test::TempDir dir;
  const std::string path = dir.str() + "/events.out.tfevents.1";
  Collected c;
  RecordFollower f(path, 0, c.warn());
  const std::string one = frame_record("one"), two = frame_record("two");
  append(path, one + two.substr(0, 10));
  f.poll(c.on());
  EXPECT_EQ(c.records, std::vector<std::string>{"one"});
  append(path, two.substr(10));
  f.poll(c.on());
  EXPECT_EQ(c.records.size(), 2u);
  EXPECT_TRUE(c.warnings.empty());

  std::string bad_data = frame_record("three");
  bad_data[14] ^= 0x20;  // a flipped bit in the payload
  std::string bad_length = frame_record("four");
  bad_length[0] ^= 0x01;
  const uint64_t at = one.size() + two.size();
  append(path, bad_data + bad_length + frame_record("five"));
  f.poll(c.on());
  EXPECT_EQ(c.records.back(), "five");
  EXPECT_EQ(c.records.size(), 3u);
  ASSERT_EQ(c.warnings.size(), 2u) << ::testing::PrintToString(c.warnings);
  EXPECT_THAT(c.warnings[0], HasSubstr("data is corrupt at byte " + std::to_string(at)));
  EXPECT_THAT(c.warnings[1], HasSubstr("length is corrupt at byte " + std::to_string(at + bad_data.size())));

  append(path, frame_record("six").substr(0, 7));
  f.poll(c.on(), true);
  EXPECT_EQ(c.records.size(), 3u);
  EXPECT_THAT(c.warnings.back(), HasSubstr("the last record is cut off"));
}

TEST(RecordFollower, AnEarlierRunsRecordsAreSkippedByStartingAtTheirEnd) {
  test::TempDir dir;
  const std::string path = dir.str() + "/events.out.tfevents.1";
  append(path, frame_record("old"));
  Collected c;
  RecordFollower f(path, frame_record("old").size(), c.warn());
  append(path, frame_record("new"));
  f.poll(c.on());
  EXPECT_EQ(c.records, std::vector<std::string>{"new"});
}

TEST(RecordFollower, AFileOfHundredsOfMegabytesIsReadInBoundedMemory) {
  test::TempDir dir;
  const std::string path = dir.str() + "/events.out.tfevents.big";
  const std::string record = frame_record(std::string(4000, 'x'));
  size_t written = 0;
  {
    std::ofstream out(path, std::ios::binary);
    while (written < (256u << 20)) {
      out << record;
      written += record.size();
    }
  }
  Collected c;
  size_t n = 0;
  RecordFollower f(path, 0, c.warn());
  f.poll([&](std::string_view p) { n += p.size() == 4000; });
  EXPECT_EQ(n, written / record.size());
  EXPECT_TRUE(c.warnings.empty());
  EXPECT_LE(f.peak_buffer_bytes(), 2 * RecordFollower::kChunkBytes + record.size());
}

}  // namespace
}  // namespace cadenza::tensorboard
