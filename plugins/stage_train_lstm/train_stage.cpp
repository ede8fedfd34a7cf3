// stage_train_lstm: trains the sequence LSTM on a dataset from
// stage_preprocess and writes the best model.
//
//   [stages.train]
//   plugin = "stage_train_lstm"
//   deps = { dataset = "out/dataset" }
//   outs = { model = "out/model" }
//   params = { hidden_size = 32, epochs = 20 }
//
// Output directory: model.pt (LibTorch archive of the best epoch's weights),
// config.json (architecture, sample rate, the dataset's normalisation) and
// summary.json (best epoch, validation ESR, speed).
#include <sndfile.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cadenza/sdk/export.h"
#include "cadenza/sdk/params.h"
#include "cadenza/sdk/stage.h"
#include "trainer.h"

namespace cadenza::train {

namespace {

using sdk::ParamSpec;

std::vector<float> read_mono(const std::string& path, int* sample_rate) {
  SF_INFO info{};
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
  if (!f) throw sdk::PluginError(path + ": cannot read (" + std::string(sf_strerror(nullptr)) + ")");
  if (info.channels != 1) {
    sf_close(f);
    throw sdk::PluginError(path + ": expected mono audio from stage_preprocess, found " + std::to_string(info.channels) + " channels");
  }
  std::vector<float> out(static_cast<size_t>(info.frames));
  const sf_count_t n = sf_readf_float(f, out.data(), info.frames);
  sf_close(f);
  if (n != info.frames) throw sdk::PluginError(path + ": short read");
  *sample_rate = info.samplerate;
  return out;
}

class TrainLstmStage : public sdk::Stage {
 public:
  std::vector<ParamSpec> params() const override {
    return {
        ParamSpec::String("model", "sequence_lstm", "model family", {"sequence_lstm"}),
        ParamSpec::Integer("hidden_size", 32, "LSTM hidden units").bounds(1, 1024),
        ParamSpec::Integer("layers", 1, "LSTM layers (NAM's LSTM export supports any count)").bounds(1, 8),
        ParamSpec::Float("learning_rate", 0.005, "Adam step size").bounds(1e-7, 1),
        ParamSpec::Integer("lr_patience", 3, "epochs without improvement before halving the learning rate").bounds(1, 1000),
        ParamSpec::Integer("batch_size", 16, "segments per step").bounds(1, 4096),
        ParamSpec::Integer("segment_length", 22050, "samples per training segment (after warm-up)").bounds(16, 10000000),
        ParamSpec::Integer("tbptt_length", 2048, "samples per truncated-backprop step").bounds(1, 10000000),
        ParamSpec::Integer("warmup", 1000, "samples run without gradients before each segment").bounds(1, 10000000),
        ParamSpec::Integer("epochs", 20, "maximum epochs").bounds(1, 100000),
        ParamSpec::Integer("patience", 6, "stop after this many epochs without a better validation ESR").bounds(1, 100000),
        ParamSpec::Integer("random_seed", 1, "seed: same seed and threads give identical weights on CPU").bounds(0, 1e15),
        ParamSpec::Integer("threads", 0, "CPU threads; 0: the stage's resources.cpus").bounds(0, 256),
        ParamSpec::String("device", "auto", "auto (CUDA when available), cpu or cuda", {"auto", "cpu", "cuda"}),
        ParamSpec::Float("preemphasis", 0.95, "first-order pre-emphasis coefficient of the ESR loss").bounds(0, 0.999),
        ParamSpec::Integer("audio_every", 5, "epochs between validation audio clips; 0: none").bounds(0, 100000),
    };
  }

  void run(sdk::StageContext& ctx) override {
    const auto p = sdk::Params::parse(ctx);
    TrainConfig c;
    c.hidden_size = p.get<int64_t>("hidden_size");
    c.layers = p.get<int64_t>("layers");
    c.learning_rate = p.get<double>("learning_rate");
    c.lr_patience = p.get<int64_t>("lr_patience");
    c.batch_size = p.get<int64_t>("batch_size");
    c.segment_length = p.get<int64_t>("segment_length");
    c.tbptt_length = p.get<int64_t>("tbptt_length");
    c.warmup = p.get<int64_t>("warmup");
    c.epochs = p.get<int64_t>("epochs");
    c.patience = p.get<int64_t>("patience");
    c.seed = p.get<int64_t>("random_seed");
    c.threads = p.get<int64_t>("threads") > 0 ? p.get<int64_t>("threads") : ctx.cpus();
    c.device = p.get<std::string>("device");
    c.emphasis = p.get<double>("preemphasis");
    c.audio_every = p.get<int64_t>("audio_every");

    const std::string dir = ctx.input("dataset");
    nlohmann::json dataset;
    try {
      dataset = nlohmann::json::parse(std::ifstream(dir + "/dataset.json"));
    } catch (const std::exception& e) {
      throw sdk::PluginError(dir + "/dataset.json: not a dataset from stage_preprocess (" + e.what() + ")");
    }
    Audio train, val;
    int rate_a = 0, rate_b = 0;
    train.input = read_mono(dir + "/train_input.wav", &train.sample_rate);
    train.target = read_mono(dir + "/train_target.wav", &rate_a);
    val.input = read_mono(dir + "/val_input.wav", &val.sample_rate);
    val.target = read_mono(dir + "/val_target.wav", &rate_b);

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
      r = train_sequence_lstm(c, train, val, ctx.scratch_dir(), out + "/model.pt", cb);
    } catch (const sdk::PluginError&) {
      throw;
    } catch (const std::exception& e) {
      throw sdk::PluginError("stage '" + ctx.stage_name() + "': training failed: " + e.what());
    }
    if (r.cancelled) throw sdk::Cancelled();
    const nlohmann::json config = {{"family", "sequence_lstm"},
                                   {"hidden_size", c.hidden_size},
                                   {"layers", c.layers},
                                   {"sample_rate", train.sample_rate},
                                   {"skip_connection", true},
                                   {"normalization", dataset.value("normalization", nlohmann::json::object())}};
    std::ofstream(out + "/config.json") << config.dump(2) << "\n";
    const nlohmann::json summary = {{"best_epoch", r.best_epoch + 1},
                                    {"best_val_esr", r.best_val_esr},
                                    {"epochs_run", r.epochs_run},
                                    {"resumed_from_epoch", r.resumed_from_epoch},
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

CADENZA_STAGE_PLUGIN(cadenza::train::TrainLstmStage, "stage_train_lstm", "0.1.0",
                     "Trains a stateful sequence LSTM (Wright et al.) to emulate an amp or pedal, with LibTorch")
