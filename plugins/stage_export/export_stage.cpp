// stage_export: evaluates a trained model on the test split and exports it
// for real-time use.
//
//   [stages.export]
//   plugin = "stage_export"
//   deps = { model = "out/model", dataset = "out/dataset" }
//   outs = { export = "out/export" }
//
// Output directory: metrics.json (test ESR, MSE, peak error, baselines,
// how far each export is from LibTorch), test_input.wav / test_target.wav /
// test_prediction.wav (normalisation undone), model.onnx (both families; see
// onnx_graph.h for its inputs and outputs), model.nam (Neural Amp Modeler,
// LSTM; see nam_file.h for the layout), model.pt + config.json (the LibTorch
// archive and its shape).
//
// An optional dep `loudness_input` (a WAV) is the signal the .nam's
// metadata.loudness is measured on; without it, the test split's input.
#include <nlohmann/json.hpp>

#include "cadenza/sdk/export.h"
#include "cadenza/sdk/params.h"
#include "cadenza/sdk/stage.h"
#include "exporter.h"

namespace cadenza::exporter {

namespace {

constexpr const char* kVersion = "0.2.0";
using sdk::ParamSpec;

class ExportStage : public sdk::Stage {
 public:
  std::vector<ParamSpec> params() const override {
    return {
        ParamSpec::Bool("nam", true,
                        "write model.nam; a model NAM cannot represent is then an error. false: skip the .nam for such "
                        "models (metrics and the LibTorch archive are still written)"),
        ParamSpec::String("name", "", "the model's name in the .nam metadata; empty: the stage's name"),
        ParamSpec::String("modeled_by", "", "who made the model (.nam metadata)"),
        ParamSpec::String("gear_type", "pedal", ".nam metadata: amp, pedal, amp_cab, amp_pedal, amp_pedal_cab, preamp, studio",
                          {"amp", "pedal", "amp_cab", "amp_pedal", "amp_pedal_cab", "preamp", "studio"}),
        ParamSpec::Bool("onnx", true,
                        "write model.onnx (ONNX opset 17, checked and run over the test input before the stage "
                        "succeeds); false: no ONNX export"),
        ParamSpec::OptionalFloat("input_level_dbu",
                                 ".nam metadata: the level in dBu of a full-scale input sample during the capture "
                                 "(the NAM plugin calibrates its input with it); unset: not recorded")
            .bounds(-100, 100),
        ParamSpec::OptionalFloat("output_level_dbu",
                                 ".nam metadata: the level in dBu of a full-scale output sample during the capture; "
                                 "unset: not recorded")
            .bounds(-100, 100),
        ParamSpec::Integer("threads", 0, "CPU threads; 0: the stage's resources.cpus").bounds(0, 256),
    };
  }

  void run(sdk::StageContext& ctx) override {
    const auto p = sdk::Params::parse(ctx);
    ExportOptions o;
    o.require_nam = p.get<bool>("nam");
    o.threads = static_cast<int>(p.get<int64_t>("threads") > 0 ? p.get<int64_t>("threads") : ctx.cpus());
    const std::string name = p.get<std::string>("name");
    o.nam_metadata = {{"name", name.empty() ? ctx.stage_name() : name}, {"gear_type", p.get<std::string>("gear_type")}};
    if (!p.get<std::string>("modeled_by").empty()) o.nam_metadata["modeled_by"] = p.get<std::string>("modeled_by");
    for (const char* level : {"input_level_dbu", "output_level_dbu"})
      if (!p.json().at(level).is_null()) o.nam_metadata[level] = p.get<double>(level);
    o.onnx = p.get<bool>("onnx");
    o.producer_version = kVersion;
    // An optional dep: the signal NAM's loudness is measured on.
    for (const auto& name : ctx.input_names())
      if (name == "loudness_input") o.loudness_input = ctx.input(name);

    ExportReport r;
    try {
      r = export_model(ctx.input("model"), ctx.input("dataset"), ctx.output("export"), o,
                       [&](const std::string& m) { ctx.log(sdk::LogLevel::kWarning, m); });
    } catch (const std::runtime_error& e) {
      throw sdk::PluginError("stage '" + ctx.stage_name() + "': " + e.what());
    }
    ctx.metrics().scalar("test/esr", r.esr, 0);
    ctx.metrics().scalar("test/mse", r.mse, 0);
    ctx.metrics().scalar("test/peak_error", r.peak_error, 0);
    const size_t clip = std::min<size_t>(r.prediction.size(), static_cast<size_t>(3 * r.sample_rate));
    ctx.metrics().audio("test/prediction", r.prediction.data(), clip, 1, r.sample_rate, 0);
    char line[200];
    std::snprintf(line, sizeof line, "test ESR %.5f (identity %.4f, best gain %.4f), MSE %.3g, peak error %.3g%s",
                  r.esr, r.identity_esr, r.linear_esr, r.mse, r.peak_error,
                  r.nam_written ? "; model.nam written and verified" : "; no .nam");
    ctx.log(sdk::LogLevel::kInfo, line);
    if (r.onnx_written) {
      std::snprintf(line, sizeof line, "model.onnx written, checked and run: max deviation from LibTorch %.3g",
                    r.onnx.max_deviation);
      ctx.log(sdk::LogLevel::kInfo, line);
    }
  }
};

}  // namespace

}  // namespace cadenza::exporter

CADENZA_STAGE_PLUGIN(cadenza::exporter::ExportStage, "stage_export", cadenza::exporter::kVersion,
                     "Test-split metrics, predicted audio, and the model as ONNX, a Neural Amp Modeler .nam and a "
                     "LibTorch archive")
