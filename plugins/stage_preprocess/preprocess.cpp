#include "preprocess.h"

#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>

#include "audio_file.h"

namespace cadenza::preprocess {

namespace {

struct Peaks {
  float input = 0, target = 0;
};

std::string db(double linear) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f dBFS", linear > 0 ? 20 * std::log10(linear) : -INFINITY);
  return buf;
}

std::string xxh3_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  XXH3_state_t* state = XXH3_createState();
  XXH3_128bits_reset(state);
  std::vector<char> buf(1 << 16);
  while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0)
    XXH3_128bits_update(state, buf.data(), static_cast<size_t>(in.gcount()));
  const XXH128_hash_t h = XXH3_128bits_digest(state);
  XXH3_freeState(state);
  char hex[33];
  std::snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return hex;
}

void check_channel(const AudioReader& r, int channel) {
  if (channel >= r.channels())
    throw AudioError(r.path() + ": has " + std::to_string(r.channels()) + " channel(s); channel " +
                     std::to_string(channel) + " does not exist (channels count from 0, or use \"mix\")");
}

}  // namespace

nlohmann::json preprocess(const std::string& input_path, const std::string& target_path,
                          const std::string& out_dir, const Options& o,
                          const std::function<bool()>& cancelled,
                          const std::function<void(double, double)>& progress) {
  const double ratio_sum = o.train_ratio + o.val_ratio + o.test_ratio;
  if (o.train_ratio <= 0 || o.test_ratio <= 0 || o.val_ratio < 0 || std::fabs(ratio_sum - 1) > 1e-6)
    throw std::invalid_argument("train_ratio, val_ratio and test_ratio must be >= 0, train and test > 0, "
                                "and sum to 1 (they sum to " + std::to_string(ratio_sum) + ")");
  AudioReader input(input_path), target(target_path);
  if (input.sample_rate() != target.sample_rate())
    throw AudioError(target_path + ": sample rate " + std::to_string(target.sample_rate()) + " Hz differs from " +
                     input_path + " (" + std::to_string(input.sample_rate()) + " Hz); resample one of them");
  if (o.sample_rate > 0 && input.sample_rate() != o.sample_rate)
    throw AudioError(input_path + ": sample rate " + std::to_string(input.sample_rate()) +
                     " Hz, but the stage expects " + std::to_string(o.sample_rate) + " Hz (param sample_rate)");
  check_channel(input, o.channel);
  check_channel(target, o.channel);
  int64_t frames = input.frames();
  if (input.frames() != target.frames()) {
    if (o.align != "trim")
      throw AudioError(target_path + ": " + std::to_string(target.frames()) + " frames, but " + input_path +
                       " has " + std::to_string(input.frames()) +
                       "; the recordings must line up (set align = \"trim\" to cut both to the shorter)");
    frames = std::min(input.frames(), target.frames());
  }
  const double total_work = 2.0 * static_cast<double>(frames);

  // Pass 1: peaks.
  std::vector<float> a, b;
  Peaks peak;
  for (int64_t done = 0; done < frames;) {
    if (cancelled()) return {};
    const size_t want = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(o.block_frames), frames - done));
    const size_t na = input.read_mono(a, want, o.channel), nb = target.read_mono(b, want, o.channel);
    if (na != want || nb != want) throw AudioError(input_path + " / " + target_path + ": shorter than their headers say");
    for (size_t i = 0; i < na; ++i) {
      if (!std::isfinite(a[i])) throw AudioError(input_path + ": sample " + std::to_string(done + static_cast<int64_t>(i)) + " is not a finite number");
      if (!std::isfinite(b[i])) throw AudioError(target_path + ": sample " + std::to_string(done + static_cast<int64_t>(i)) + " is not a finite number");
      peak.input = std::max(peak.input, std::fabs(a[i]));
      peak.target = std::max(peak.target, std::fabs(b[i]));
    }
    done += static_cast<int64_t>(na);
    progress(static_cast<double>(done), total_work);
  }
  const double floor = std::pow(10.0, o.silence_db / 20.0);
  if (peak.input <= floor) throw AudioError(input_path + ": the recording is silent (peak " + db(peak.input) + ", below silence_db)");
  if (peak.target <= floor) throw AudioError(target_path + ": the recording is silent (peak " + db(peak.target) + ", below silence_db)");
  double in_gain = 1, tgt_gain = 1;
  if (o.normalize == "peak") {
    in_gain = 1.0 / peak.input;
    tgt_gain = 1.0 / peak.target;
  } else if (o.normalize == "joint_peak") {
    in_gain = tgt_gain = 1.0 / std::max(peak.input, peak.target);
  }

  // Pass 2: the splits, contiguous: train, then validation, then test.
  const int64_t n_train = static_cast<int64_t>(std::floor(static_cast<double>(frames) * o.train_ratio));
  const int64_t n_val = static_cast<int64_t>(std::floor(static_cast<double>(frames) * o.val_ratio));
  const int64_t n_test = frames - n_train - n_val;
  struct Split {
    const char* name;
    int64_t start, frames;
  };
  const Split splits[3] = {{"train", 0, n_train}, {"val", n_train, n_val}, {"test", n_train + n_val, n_test}};
  std::filesystem::create_directories(out_dir);
  input.seek(0);
  target.seek(0);
  nlohmann::json split_json = nlohmann::json::object(), checksums = nlohmann::json::object();
  int64_t written = 0;
  for (const Split& s : splits) {
    const std::string in_name = std::string(s.name) + "_input.wav", tgt_name = std::string(s.name) + "_target.wav";
    {
      AudioWriter wi(out_dir + "/" + in_name, input.sample_rate()), wt(out_dir + "/" + tgt_name, input.sample_rate());
      for (int64_t done = 0; done < s.frames;) {
        if (cancelled()) return {};
        const size_t want = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(o.block_frames), s.frames - done));
        input.read_mono(a, want, o.channel);
        target.read_mono(b, want, o.channel);
        for (auto& x : a) x = static_cast<float>(x * in_gain);
        for (auto& x : b) x = static_cast<float>(x * tgt_gain);
        wi.write(a.data(), want);
        wt.write(b.data(), want);
        done += static_cast<int64_t>(want);
        written += static_cast<int64_t>(want);
        progress(static_cast<double>(frames + written), total_work);
      }
      wi.close();
      wt.close();
    }
    split_json[s.name] = {{"start", s.start}, {"frames", s.frames}, {"input", in_name}, {"target", tgt_name}};
    checksums[in_name] = xxh3_file(out_dir + "/" + in_name);
    checksums[tgt_name] = xxh3_file(out_dir + "/" + tgt_name);
  }
  return {{"format", "cadenza-dataset/1"},
          {"sample_rate", input.sample_rate()},
          {"frames", frames},
          {"source",
           {{"input", {{"path", input_path}, {"frames", input.frames()}, {"channels", input.channels()}}},
            {"target", {{"path", target_path}, {"frames", target.frames()}, {"channels", target.channels()}}}}},
          {"channel", o.channel < 0 ? nlohmann::json("mix") : nlohmann::json(o.channel)},
          {"normalization",
           {{"mode", o.normalize},
            {"input_gain", in_gain},
            {"target_gain", tgt_gain},
            {"input_peak", peak.input},
            {"target_peak", peak.target}}},
          {"splits", split_json},
          {"checksum_algorithm", "xxh3-128"},
          {"checksums", checksums}};
}

}  // namespace cadenza::preprocess
