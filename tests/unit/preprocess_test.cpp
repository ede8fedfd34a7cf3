// stage_preprocess's core: splits, normalisation and every audio error.
#include <gmock/gmock.h>
#include <sndfile.h>

#include <cmath>

#include "audio_file.h"
#include "preprocess.h"
#include "test_util.h"

namespace cadenza::preprocess {
namespace {

using ::testing::HasSubstr;

// Writes interleaved samples with libsndfile in the given format.
std::string write_audio(const test::TempDir& dir, const std::string& name, const std::vector<float>& samples,
                        int channels = 1, int rate = 8000, int format = SF_FORMAT_WAV | SF_FORMAT_PCM_24) {
  const std::string path = dir.str() + "/" + name;
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = channels;
  info.format = format;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  EXPECT_NE(f, nullptr) << sf_strerror(nullptr);
  sf_writef_float(f, samples.data(), static_cast<sf_count_t>(samples.size() / channels));
  sf_close(f);
  return path;
}

std::vector<float> read_all(const std::string& path) {
  AudioReader r(path);
  std::vector<float> out, block;
  while (r.read_mono(block, 4096, -1) > 0) out.insert(out.end(), block.begin(), block.end());
  return out;
}

std::vector<float> ramp(size_t n, float scale) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = scale * std::sin(0.01f * static_cast<float>(i)) * (1.0f - static_cast<float>(i) / (2.0f * n));
  return v;
}

nlohmann::json run(const std::string& in, const std::string& tgt, const std::string& out, Options o = {}) {
  return preprocess(in, tgt, out, o, [] { return false; }, [](double, double) {});
}

class PreprocessTest : public ::testing::Test {
 protected:
  test::TempDir dir_;
};

TEST_F(PreprocessTest, ContiguousSplitsAndPeakNormalisationRoundTrip) {
  const auto dry = ramp(10000, 0.5f), wet = ramp(10000, 0.25f);
  const auto in = write_audio(dir_, "dry.wav", dry, 1, 8000, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
  const auto tgt = write_audio(dir_, "wet.flac", wet, 1, 8000, SF_FORMAT_FLAC | SF_FORMAT_PCM_24);
  Options o;
  o.block_frames = 777;  // many blocks, unaligned with the splits
  const auto m = run(in, tgt, dir_.str() + "/out", o);
  EXPECT_EQ(m["sample_rate"], 8000);
  EXPECT_EQ(m["splits"]["train"]["frames"], 7000);
  EXPECT_EQ(m["splits"]["val"]["start"], 7000);
  EXPECT_EQ(m["splits"]["val"]["frames"], 1000);
  EXPECT_EQ(m["splits"]["test"]["frames"], 2000);
  const double gain = m["normalization"]["input_gain"];
  EXPECT_NEAR(gain, 1.0 / 0.5 * (0.5 / m["normalization"]["input_peak"].get<double>()), 1e-6);
  // Splits are the source, in order, times the gain; dividing undoes it.
  std::vector<float> joined;
  for (const char* s : {"train", "val", "test"}) {
    const auto part = read_all(dir_.str() + "/out/" + std::string(s) + "_input.wav");
    joined.insert(joined.end(), part.begin(), part.end());
  }
  ASSERT_EQ(joined.size(), dry.size());
  float peak = 0;
  for (size_t i = 0; i < dry.size(); ++i) {
    EXPECT_NEAR(joined[i] / gain, dry[i], 1e-6) << i;
    peak = std::max(peak, std::fabs(joined[i]));
  }
  EXPECT_NEAR(peak, 1.0f, 1e-6);
  EXPECT_EQ(m["checksums"].size(), 6u);
}

TEST_F(PreprocessTest, JointPeakKeepsTheLevelRelation) {
  const auto in = write_audio(dir_, "dry.wav", ramp(4000, 0.5f));
  const auto tgt = write_audio(dir_, "wet.wav", ramp(4000, 0.25f));
  Options o;
  o.normalize = "joint_peak";
  const auto m = run(in, tgt, dir_.str() + "/out", o);
  EXPECT_DOUBLE_EQ(m["normalization"]["input_gain"].get<double>(), m["normalization"]["target_gain"].get<double>());
  o.normalize = "none";
  const auto n = run(in, tgt, dir_.str() + "/out2", o);
  EXPECT_EQ(n["normalization"]["input_gain"], 1.0);
}

TEST_F(PreprocessTest, StereoMixOrChannel) {
  std::vector<float> stereo;
  for (int i = 0; i < 4000; ++i) {
    stereo.push_back(0.8f * std::sin(0.02f * i));
    stereo.push_back(0.2f * std::sin(0.02f * i));
  }
  const auto in = write_audio(dir_, "st.wav", stereo, 2, 8000, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
  const auto tgt = write_audio(dir_, "st2.wav", stereo, 2, 8000, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
  Options o;
  o.normalize = "none";
  run(in, tgt, dir_.str() + "/mix", o);
  EXPECT_NEAR(read_all(dir_.str() + "/mix/train_input.wav")[100], 0.5f * std::sin(2.0f), 1e-6);
  o.channel = 1;
  run(in, tgt, dir_.str() + "/ch1", o);
  EXPECT_NEAR(read_all(dir_.str() + "/ch1/train_input.wav")[100], 0.2f * std::sin(2.0f), 1e-6);
  o.channel = 2;
  EXPECT_THAT(test::error_of([&] {
                try { run(in, tgt, dir_.str() + "/ch2", o); } catch (const AudioError& e) { throw Error(e.what()); }
              }),
              HasSubstr("st.wav: has 2 channel(s); channel 2 does not exist"));
}

std::string audio_error(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const AudioError& e) {
    return e.what();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an error";
  return "";
}

TEST_F(PreprocessTest, ErrorsNameTheFileAndTheProblem) {
  const auto good = write_audio(dir_, "good.wav", ramp(4000, 0.5f));
  const auto rate = write_audio(dir_, "rate.wav", ramp(4000, 0.5f), 1, 44100);
  const auto shorter = write_audio(dir_, "short.wav", ramp(3000, 0.5f));
  const auto silent = write_audio(dir_, "silent.wav", std::vector<float>(4000, 0.0f));
  const auto empty = write_audio(dir_, "empty.wav", {});
  const std::string corrupt = dir_.write("corrupt.wav", "RIFF\x10\0\0\0WAVEjunkjunkjunk");
  const std::string out = dir_.str() + "/out";
  EXPECT_THAT(audio_error([&] { run(good, rate, out); }),
              HasSubstr("rate.wav: sample rate 44100 Hz differs from " + good + " (8000 Hz)"));
  EXPECT_THAT(audio_error([&] { run(good, shorter, out); }),
              HasSubstr("short.wav: 3000 frames, but " + good + " has 4000; the recordings must line up"));
  Options trim;
  trim.align = "trim";
  EXPECT_EQ(run(good, shorter, out, trim)["frames"], 3000);
  EXPECT_THAT(audio_error([&] { run(good, silent, out); }), HasSubstr("silent.wav: the recording is silent"));
  EXPECT_THAT(audio_error([&] { run(empty, good, out); }), HasSubstr("empty.wav: the recording is empty"));
  EXPECT_THAT(audio_error([&] { run(corrupt, good, out); }), HasSubstr("corrupt.wav: cannot read audio"));
  EXPECT_THAT(audio_error([&] { run(dir_.str() + "/missing.wav", good, out); }), HasSubstr("missing.wav: cannot read audio"));
  Options sr;
  sr.sample_rate = 48000;
  EXPECT_THAT(audio_error([&] { run(good, good, out, sr); }), HasSubstr("the stage expects 48000 Hz"));
  Options ratios;
  ratios.test_ratio = 0.5;
  EXPECT_THAT(audio_error([&] { run(good, good, out, ratios); }), HasSubstr("sum to 1"));
}

TEST_F(PreprocessTest, CancelStopsEarly) {
  const auto in = write_audio(dir_, "a.wav", ramp(20000, 0.5f));
  Options o;
  o.block_frames = 100;
  int calls = 0;
  const auto m = preprocess(in, in, dir_.str() + "/out", o, [&] { return ++calls > 3; }, [](double, double) {});
  EXPECT_TRUE(m.is_null());
}

}  // namespace
}  // namespace cadenza::preprocess
