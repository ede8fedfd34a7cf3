// stage_train_lstm: trains an amp/pedal model on a dataset from
// stage_preprocess and writes the best epoch's model.
//
//   [stages.train]
//   plugin = "stage_train_lstm"
//   deps = { dataset = "out/dataset" }
//   outs = { model = "out/model" }
//   params = { model = "sequence_lstm", hidden_size = 32, epochs = 20 }  # model: see params()
//
// Output directory: model.pt (LibTorch archive of the best epoch's weights),
// config.json (amp::ModelSpec: family, shape, sample rate, the dataset's
// normalisation) and summary.json (best epoch, validation ESR, speed).
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cadenza/sdk/export.h"
#include "cadenza/sdk/params.h"
#include "cadenza/sdk/stage.h"
#include "dataset.h"
#include "trainer.h"

namespace cadenza::train {

namespace {

using sdk::ParamSpec;

// Params whose default depends on the family: 0 picks it. The windowed
// family's are the template's, so that its old results can be reproduced.
class TrainLstmStage : public sdk::Stage {
 public:
  std::vector<ParamSpec> params() const override {
    return {
        // The default is the family that reached the lower test ESR per
        // minute of 2-core training on both demo pedals (README, "Choosing
        // the model"); sequence_lstm is the one NAM can play.
        ParamSpec::String("model", "windowed_conv_lstm",
                          "model family: windowed_conv_lstm (the template: Conv1d x2 -> LSTM -> Linear on a window; "
                          "measured best per CPU minute) or sequence_lstm (stateful LSTM over the audio, Wright et al.; "
                          "exports to Neural Amp Modeler's .nam)",
                          {"windowed_conv_lstm", "sequence_lstm"}),
        ParamSpec::Integer("hidden_size", 32, "LSTM hidden units (the template's hidden_units)")
            .bounds(1, 1024).default_when("model", "windowed_conv_lstm", 36),
        ParamSpec::Integer("layers", 1, "stacked LSTM layers").bounds(1, 8),
        ParamSpec::Bool("skip_connection", false,
                           "sequence_lstm: add the input to the output (Wright et al.); NAM's LSTM has no skip, so such a "
                           "model exports only as a LibTorch archive"),
        ParamSpec::Integer("input_size", 150, "windowed_conv_lstm: samples per window").bounds(2, 100000),
        ParamSpec::Integer("conv1d_filters", 16, "windowed_conv_lstm: channels of both convolutions").bounds(1, 1024),
        ParamSpec::Integer("conv1d_strides", 12, "windowed_conv_lstm: stride of both convolutions").bounds(1, 1024),
        ParamSpec::Integer("conv1d_kernel_size", 12, "windowed_conv_lstm: kernel size of both convolutions").bounds(1, 1024),
        ParamSpec::Float("learning_rate", 0.005, "Adam step size")
            .bounds(1e-9, 1).default_when("model", "windowed_conv_lstm", 0.01),
        ParamSpec::String("lr_schedule", "plateau",
                          "plateau: halve the learning rate after lr_patience epochs without a better validation ESR; "
                          "constant",
                          {"plateau", "constant"}),
        ParamSpec::Integer("lr_patience", 3, "epochs without improvement before halving the learning rate").bounds(1, 1000),
        ParamSpec::Integer("batch_size", 16, "segments (sequence_lstm) or windows per step")
            .bounds(1, 1000000).default_when("model", "windowed_conv_lstm", 4096),
        ParamSpec::Integer("segment_length", 22050, "sequence_lstm: samples per training segment (after warm-up)").bounds(16, 10000000),
        ParamSpec::Integer("tbptt_length", 2048, "sequence_lstm: samples per truncated-backprop step").bounds(1, 10000000),
        ParamSpec::Integer("warmup", 1000, "sequence_lstm: samples run without gradients before each segment").bounds(1, 10000000),
        ParamSpec::Integer("epochs", 20, "maximum epochs").bounds(1, 100000),
        ParamSpec::Integer("patience", 6, "stop after this many epochs without a better validation ESR").bounds(1, 100000),
        ParamSpec::Float("max_minutes", 0, "stop training after this many minutes (checked between steps); 0: no limit").bounds(0, 1e6),
        ParamSpec::Integer("random_seed", 1, "seed: same seed and threads give identical weights on CPU").bounds(0, 1e15),
        ParamSpec::Integer("threads", 0, "CPU threads; 0: the stage's resources.cpus").bounds(0, 256),
        ParamSpec::String("device", "auto", "auto (CUDA when available), cpu or cuda", {"auto", "cpu", "cuda"}),
        ParamSpec::Float("preemphasis", 0.95, "sequence_lstm: first-order pre-emphasis coefficient of the ESR loss").bounds(0, 0.999),
        ParamSpec::Integer("audio_every", 5, "epochs between validation audio clips; 0: none").bounds(0, 100000),
    };
  }

  void run(sdk::StageContext& ctx) override {
    const auto p = sdk::Params::parse(ctx);
    TrainConfig c;
    c.model.family = p.get<std::string>("model");
    // Each model family's own defaults come resolved by the engine (default_when).
    c.model.hidden_size = p.get<int64_t>("hidden_size");
    c.model.layers = p.get<int64_t>("layers");
    c.model.skip_connection = p.get<bool>("skip_connection");
    c.model.window = p.get<int64_t>("input_size");
    c.model.conv_filters = p.get<int64_t>("conv1d_filters");
    c.model.conv_stride = p.get<int64_t>("conv1d_strides");
    c.model.conv_kernel = p.get<int64_t>("conv1d_kernel_size");
    c.learning_rate = p.get<double>("learning_rate");
    c.lr_schedule = p.get<std::string>("lr_schedule");
    c.lr_patience = p.get<int64_t>("lr_patience");
    c.batch_size = p.get<int64_t>("batch_size");
    c.segment_length = p.get<int64_t>("segment_length");
    c.tbptt_length = p.get<int64_t>("tbptt_length");
    c.warmup = p.get<int64_t>("warmup");
    c.epochs = p.get<int64_t>("epochs");
    c.patience = p.get<int64_t>("patience");
    c.max_minutes = p.get<double>("max_minutes");
    c.seed = p.get<int64_t>("random_seed");
    c.threads = p.get<int64_t>("threads") > 0 ? p.get<int64_t>("threads") : ctx.cpus();
    c.device = p.get<std::string>("device");
    c.emphasis = p.get<double>("preemphasis");
    c.audio_every = p.get<int64_t>("audio_every");

    Audio train, val;
    try {
      const auto dataset = amp::Dataset::open(ctx.input("dataset"));
      auto t = dataset.read("train"), v = dataset.read("val");
      train = {dataset.sample_rate, std::move(t.input), std::move(t.target)};
      val = {dataset.sample_rate, std::move(v.input), std::move(v.target)};
      c.model.sample_rate = dataset.sample_rate;
      c.model.input_gain = dataset.input_gain;
      c.model.target_gain = dataset.target_gain;
    } catch (const std::runtime_error& e) {
      throw sdk::PluginError(std::string("deps.dataset: ") + e.what());
    }

    TrainCallbacks cb;
    cb.log = [&](const std::string& m) { ctx.log(sdk::LogLevel::kInfo, m); };
    cb.scalar = [&](const std::string& tag, double v, int64_t step) { ctx.metrics().scalar(tag, v, step); };
    cb.audio = [&](const std::string& tag, const std::vector<float>& s, int rate, int64_t step) {
      ctx.metrics().audio(tag, s.data(), s.size(), 1, rate, step);
    };
    cb.progress = [&](double done, double total) { ctx.progress(done, total, "epochs"); };
    cb.cancelled = [&] { return ctx.cancelled(); };

    const std::string out = ctx.output("model");
    std::filesystem::create_directories(out);
    TrainResult r;
    try {
      r = train_model(c, train, val, ctx.scratch_dir(), out + "/model.pt", cb);
    } catch (const sdk::PluginError&) {
      throw;
    } catch (const std::exception& e) {
      throw sdk::PluginError("stage '" + ctx.stage_name() + "': training failed: " + e.what());
    }
    if (r.cancelled) throw sdk::Cancelled();
    std::ofstream(out + "/config.json") << c.model.to_json().dump(2) << "\n";
    const nlohmann::json summary = {{"best_epoch", r.best_epoch + 1},
                                    {"best_val_esr", r.best_val_esr},
                                    {"epochs_run", r.epochs_run},
                                    {"resumed_from_epoch", r.resumed_from_epoch},
                                    {"time_limit_reached", r.time_limit_reached},
                                    {"samples_per_s", r.samples_per_s},
                                    {"train_seconds", r.train_seconds},
                                    {"device", r.device},
                                    {"threads", c.threads}};
    std::ofstream(out + "/summary.json") << summary.dump(2) << "\n";
    ctx.log(sdk::LogLevel::kInfo, "best validation ESR " + std::to_string(r.best_val_esr) + " at epoch " +
                                      std::to_string(r.best_epoch + 1) + " (" + r.device + ")");
  }
};

}  // namespace

}  // namespace cadenza::train

CADENZA_STAGE_PLUGIN(cadenza::train::TrainLstmStage, "stage_train_lstm", "0.2.0",
                     "Trains an amp/pedal emulation (stateful sequence LSTM or the windowed conv+LSTM template) with LibTorch")
