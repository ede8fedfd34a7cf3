// stage_preprocess: an input (dry/DI) and a target (processed) recording ->
// normalised, contiguous train/val/test splits as float WAVs + dataset.json.
//
//   [stages.preprocess]
//   plugin = "stage_preprocess"
//   deps = { input = "data/dry.wav", target = "data/wet.wav" }
//   outs = { dataset = "build/dataset" }
//   params = { normalize = "peak", test_ratio = 0.2 }
#include <fstream>

#include "audio_file.h"
#include "cadenza/sdk/export.h"
#include "cadenza/sdk/params.h"
#include "cadenza/sdk/stage.h"
#include "preprocess.h"

namespace cadenza::preprocess {

namespace {

using sdk::ParamSpec;

class PreprocessStage : public sdk::Stage {
 public:
  std::vector<ParamSpec> params() const override {
    return {
        ParamSpec::Integer("sample_rate", 0, "required sample rate in Hz; 0 accepts the files' own").bounds(0, 1000000),
        ParamSpec::String("channel", "mix", "\"mix\" averages all channels; \"0\", \"1\", ... picks one"),
        ParamSpec::String("align", "error", "when lengths differ: \"error\", or \"trim\" both to the shorter",
                          {"error", "trim"}),
        ParamSpec::String("normalize", "peak",
                          "\"peak\": each file to peak 1 (as the template); \"joint_peak\": one gain for "
                          "both, keeping their level relation; \"none\"",
                          {"peak", "joint_peak", "none"}),
        ParamSpec::Float("train_ratio", 0.7, "share of the audio for training (first part)").bounds(0, 1),
        ParamSpec::Float("val_ratio", 0.1, "share for validation (middle part)").bounds(0, 1),
        ParamSpec::Float("test_ratio", 0.2, "share for testing (last part)").bounds(0, 1),
        ParamSpec::Float("silence_db", -60.0, "a recording whose peak is below this is rejected as silent")
            .bounds(-200, 0),
    };
  }

  void run(sdk::StageContext& ctx) override {
    const auto p = sdk::Params::parse(ctx);
    Options o;
    const std::string channel = p.get<std::string>("channel");
    if (channel != "mix") {
      try {
        size_t used = 0;
        o.channel = std::stoi(channel, &used);
        if (used != channel.size() || o.channel < 0) throw std::invalid_argument(channel);
      } catch (const std::exception&) {
        throw sdk::PluginError("stage '" + ctx.stage_name() + "': param channel must be \"mix\" or a channel "
                               "index like \"0\" (got \"" + channel + "\")");
      }
    }
    o.sample_rate = static_cast<int>(p.get<int64_t>("sample_rate"));
    o.align = p.get<std::string>("align");
    o.normalize = p.get<std::string>("normalize");
    o.train_ratio = p.get<double>("train_ratio");
    o.val_ratio = p.get<double>("val_ratio");
    o.test_ratio = p.get<double>("test_ratio");
    o.silence_db = p.get<double>("silence_db");
    const std::string out = ctx.output("dataset");
    nlohmann::json manifest;
    try {
      manifest = preprocess(ctx.input("input"), ctx.input("target"), out, o, [&] { return ctx.cancelled(); },
                            [&](double done, double total) { ctx.progress(done, total, "frames"); });
    } catch (const std::invalid_argument& e) {
      throw sdk::PluginError("stage '" + ctx.stage_name() + "': " + e.what());
    } catch (const AudioError& e) {
      throw sdk::PluginError(e.what());
    }
    if (ctx.cancelled()) throw sdk::Cancelled();
    std::ofstream(out + "/dataset.json") << manifest.dump(2) << "\n";
    const auto& splits = manifest["splits"];
    ctx.log(sdk::LogLevel::kInfo,
            "dataset: " + std::to_string(manifest["sample_rate"].get<int>()) + " Hz, train " +
                std::to_string(splits["train"]["frames"].get<int64_t>()) + ", val " +
                std::to_string(splits["val"]["frames"].get<int64_t>()) + ", test " +
                std::to_string(splits["test"]["frames"].get<int64_t>()) + " frames");
    ctx.metrics().scalar("preprocess/input_gain", manifest["normalization"]["input_gain"], 0);
    ctx.metrics().scalar("preprocess/target_gain", manifest["normalization"]["target_gain"], 0);
  }
};

}  // namespace

}  // namespace cadenza::preprocess

CADENZA_STAGE_PLUGIN(cadenza::preprocess::PreprocessStage, "stage_preprocess", "0.1.0",
                     "Normalises a dry/target recording pair and splits it into train/val/test float WAVs")
