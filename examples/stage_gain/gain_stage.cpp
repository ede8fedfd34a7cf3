// stage_gain: applies a gain (in dB) to a WAV file, optionally clipping.
// The example out-of-tree plugin of sdk/README.md.
#include <cadenza/sdk/export.h>
#include <cadenza/sdk/stage.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "wav_file.h"

namespace {

using cadenza::sdk::ParamSpec;
using cadenza::sdk::PluginError;

// This example reads its two params without nlohmann_json, to show that the
// SDK needs nothing but the standard library.
double number_param(const std::string& json, const std::string& key) {
  const auto at = json.find("\"" + key + "\":");
  if (at == std::string::npos) throw PluginError("param '" + key + "' missing");
  return std::stod(json.substr(at + key.size() + 3));
}
bool bool_param(const std::string& json, const std::string& key) {
  return json.find("\"" + key + "\":true") != std::string::npos;
}

class GainStage : public cadenza::sdk::Stage {
 public:
  std::vector<ParamSpec> params() const override {
    return {ParamSpec::Float("gain_db", 0.0, "gain in decibels").bounds(-60, 60),
            ParamSpec::Bool("clip", true, "hard-clip samples to [-1, 1]")};
  }

  void run(cadenza::sdk::StageContext& ctx) override {
    const std::string params = ctx.params_json();
    const double gain = std::pow(10.0, number_param(params, "gain_db") / 20.0);
    const bool clip = bool_param(params, "clip");
    gain_example::Audio audio = gain_example::read_wav(ctx.input("audio"));
    float peak_in = 0, peak_out = 0;
    const size_t n = audio.samples.size(), block = 1 << 16;
    for (size_t start = 0; start < n; start += block) {
      if (ctx.cancelled()) throw cadenza::sdk::Cancelled();
      for (size_t i = start; i < std::min(n, start + block); ++i) {
        float& s = audio.samples[i];
        peak_in = std::max(peak_in, std::fabs(s));
        s = static_cast<float>(s * gain);
        if (clip) s = std::clamp(s, -1.0f, 1.0f);
        peak_out = std::max(peak_out, std::fabs(s));
      }
      ctx.progress(static_cast<double>(std::min(n, start + block)), static_cast<double>(n), "samples");
    }
    gain_example::write_wav(ctx.output("audio"), audio);
    ctx.metrics().scalar("gain/peak_in", peak_in, 0);
    ctx.metrics().scalar("gain/peak_out", peak_out, 0);
    ctx.log(cadenza::sdk::LogLevel::kInfo, "peak " + std::to_string(peak_in) + " -> " + std::to_string(peak_out));
  }
};

}  // namespace

CADENZA_STAGE_PLUGIN(GainStage, "stage_gain", "1.0.0", "Applies a gain in dB to a WAV file")
