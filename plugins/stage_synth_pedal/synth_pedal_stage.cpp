// stage_synth_pedal: writes a demo recording pair, dry.wav and wet.wav
// (32-bit float WAV), so the example workflow needs no download. The same
// seed and params give the same bytes.
#include <sndfile.h>

#include <algorithm>

#include "cadenza/sdk/export.h"
#include "cadenza/sdk/params.h"
#include "cadenza/sdk/stage.h"
#include "guitar_synth.h"
#include "pedal.h"

namespace cadenza::synth {

namespace {

using sdk::ParamSpec;

void write_wav(const std::string& path, const std::vector<float>& samples, int sample_rate) {
  SF_INFO info{};
  info.samplerate = sample_rate;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  if (!f) throw sdk::PluginError(path + ": cannot write (" + std::string(sf_strerror(nullptr)) + ")");
  // No PEAK chunk: it holds the time of writing, so equal samples written a
  // second apart made different files (and cache keys).
  sf_command(f, SFC_SET_ADD_PEAK_CHUNK, nullptr, SF_FALSE);
  const sf_count_t n = sf_writef_float(f, samples.data(), static_cast<sf_count_t>(samples.size()));
  sf_close(f);
  if (n != static_cast<sf_count_t>(samples.size())) throw sdk::PluginError(path + ": short write");
}

class SynthPedalStage : public sdk::Stage {
 public:
  std::vector<ParamSpec> params() const override {
    return {
        ParamSpec::Integer("seed", 1, "random seed of the performance").bounds(0, 1e15),
        ParamSpec::Float("duration_s", 60.0, "length of the recording in seconds").bounds(0.1, 3600),
        ParamSpec::Integer("sample_rate", 44100, "sample rate in Hz").bounds(8000, 192000),
        ParamSpec::String("circuit", "overdrive",
                          "overdrive (short memory) or compfuzz (compressor into a fuzz: long memory); see pedal.h",
                          {"overdrive", "compfuzz"}),
        ParamSpec::Float("drive", 6.0, "pedal gain before clipping").bounds(0.1, 100),
        ParamSpec::Float("asymmetry", 0.3, "0 clips symmetrically; more adds even harmonics").bounds(0, 2),
        ParamSpec::Float("tone_hz", 3500.0, "tone lowpass cutoff in Hz").bounds(100, 20000),
        ParamSpec::Float("emphasis", 0.7, "pre-emphasis coefficient").bounds(0, 0.99),
        ParamSpec::Float("level", 0.5, "pedal output level").bounds(0.01, 1),
    };
  }

  void run(sdk::StageContext& ctx) override {
    const auto p = sdk::Params::parse(ctx);
    SynthOptions s;
    s.seed = static_cast<uint64_t>(p.get<int64_t>("seed"));
    s.duration_s = p.get<double>("duration_s");
    s.sample_rate = static_cast<int>(p.get<int64_t>("sample_rate"));
    PedalOptions o;
    o.circuit = p.get<std::string>("circuit");
    o.drive = p.get<double>("drive");
    o.asymmetry = p.get<double>("asymmetry");
    o.tone_hz = p.get<double>("tone_hz");
    o.emphasis = p.get<double>("emphasis");
    o.level = p.get<double>("level");
    o.sample_rate = s.sample_rate;
    const std::vector<float> dry = guitar_signal(s);
    if (ctx.cancelled()) throw sdk::Cancelled();
    const std::vector<float> wet = apply_pedal(dry, o);
    write_wav(ctx.output("dry"), dry, s.sample_rate);
    write_wav(ctx.output("wet"), wet, s.sample_rate);
    // Two seconds of each for TensorBoard (or the run's audio/ folder).
    const size_t clip = std::min(dry.size(), static_cast<size_t>(2 * s.sample_rate));
    const size_t from = std::min(dry.size() - clip, static_cast<size_t>(s.sample_rate));
    ctx.metrics().audio("demo/dry", dry.data() + from, clip, 1, s.sample_rate, 0);
    ctx.metrics().audio("demo/wet", wet.data() + from, clip, 1, s.sample_rate, 0);
    ctx.metrics().text("demo/pedal", o.circuit + ": drive " + std::to_string(o.drive) + ", asymmetry " +
                                         std::to_string(o.asymmetry) + ", tone " + std::to_string(o.tone_hz) + " Hz",
                       0);
    ctx.log(sdk::LogLevel::kInfo, "synthesised " + std::to_string(s.duration_s) + " s at " +
                                      std::to_string(s.sample_rate) + " Hz (seed " + std::to_string(s.seed) + ")");
  }
};

}  // namespace

}  // namespace cadenza::synth

CADENZA_STAGE_PLUGIN(cadenza::synth::SynthPedalStage, "stage_synth_pedal", "0.1.0",
                     "Synthesises a guitar-like dry recording and the same through a known overdrive pedal")
