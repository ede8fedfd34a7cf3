// stage_test_worker: a stage whose behaviour the tests choose through params,
// to exercise the engine's handling of good and bad plugins.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cmath>
#include <vector>
#include <fstream>
#include <sstream>
#include <thread>

#include "cadenza/sdk/export.h"
#include "cadenza/sdk/params.h"
#include "cadenza/sdk/stage.h"

namespace {

using cadenza::sdk::ParamSpec;

class TestWorker : public cadenza::sdk::Stage {
 public:
  std::vector<ParamSpec> params() const override {
    return {
        ParamSpec::String("mode", "copy", "what to do",
                          {"copy", "throw", "throw_std", "segfault", "no_output", "wait_cancel",
                           "partial_then_throw", "count_runs"}),
        ParamSpec::Integer("sleep_ms", 0, "sleep before working").bounds(0, 600000),
        ParamSpec::Integer("sleep_first_ms", 0, "sleep this long in the first attempt only (its scratch dir "
                           "survives into retries), e.g. to pass a time limit once").bounds(0, 600000),
        ParamSpec::String("suffix", "", "text appended to the copy"),
        ParamSpec::Float("gain", 1.0, "a float param (echoed into the output)"),
        ParamSpec::Bool("upper", false, "upper-case the copy"),
        ParamSpec::StringList("tags", {}, "a list param"),
        ParamSpec::Integer("epochs", 0, "emit this many epochs of scalars, text and audio"),
        ParamSpec::String("trace", "", "append a line per execution to this file (to count them)"),
    };
  }

  void run(cadenza::sdk::StageContext& ctx) override {
    const auto p = cadenza::sdk::Params::parse(ctx);
    const std::string mode = p.get<std::string>("mode");
    ctx.log(cadenza::sdk::LogLevel::kInfo, "mode " + mode);
    if (const auto trace = p.get<std::string>("trace"); !trace.empty())
      std::ofstream(trace, std::ios::app) << ctx.stage_name() << "\n";
    auto sleep_ms = p.get<int64_t>("sleep_ms");
    if (const std::string first = ctx.scratch_dir() + "/first-attempt-began"; p.get<int64_t>("sleep_first_ms") > 0 &&
                                                                               !std::ifstream(first)) {
      std::ofstream(first) << "1";
      sleep_ms += p.get<int64_t>("sleep_first_ms");
    }
    for (int64_t waited = 0; waited < sleep_ms && !ctx.cancelled(); waited += 10)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (mode == "throw") throw cadenza::sdk::PluginError("the test worker was asked to fail");
    if (mode == "throw_std") throw std::runtime_error("a plain std::runtime_error");
    if (mode == "segfault") ::raise(SIGSEGV);
    if (mode == "wait_cancel") {
      std::ofstream(ctx.output(ctx.output_names().front())) << "partial";
      while (!ctx.cancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      throw cadenza::sdk::Cancelled();
    }
    if (mode == "no_output") return;
    if (mode == "count_runs") {
      // Counts the runs that saw this scratch dir, like a checkpoint would;
      // fails after counting while $CADENZA_TEST_FAIL is set (same key).
      const std::string counter = ctx.scratch_dir() + "/runs";
      int runs = 0;
      std::ifstream(counter) >> runs;
      std::ofstream(counter) << ++runs;
      if (std::getenv("CADENZA_TEST_FAIL")) throw cadenza::sdk::PluginError("failing as asked");
      std::ofstream(ctx.output(ctx.output_names().front())) << "runs=" << runs;
      return;
    }
    std::string text;
    for (const auto& name : ctx.input_names()) {
      std::ifstream in(ctx.input(name));
      std::stringstream s;
      s << in.rdbuf();
      text += s.str();
    }
    if (p.get<bool>("upper"))
      for (auto& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    text += p.get<std::string>("suffix");
    for (int64_t epoch = 0; epoch < p.get<int64_t>("epochs"); ++epoch) {
      if (ctx.cancelled()) throw cadenza::sdk::Cancelled();
      ctx.metrics().scalar("train/loss", 1.0 / static_cast<double>(epoch + 1), epoch);
      ctx.metrics().text("notes", "epoch " + std::to_string(epoch), epoch);
      std::vector<float> clip(800);
      for (size_t i = 0; i < clip.size(); ++i) clip[i] = 0.5f * static_cast<float>(std::sin(0.05 * static_cast<double>(i * (epoch + 1))));
      ctx.metrics().audio("prediction", clip.data(), clip.size(), 1, 8000, epoch);
      ctx.progress(static_cast<double>(epoch + 1), static_cast<double>(p.get<int64_t>("epochs")), "epochs");
    }
    ctx.metrics().scalar("test/length", static_cast<double>(text.size()), 0);
    ctx.progress(1, 1, "steps");
    for (const auto& name : ctx.output_names()) {
      std::ofstream(ctx.output(name)) << text;
      if (mode == "partial_then_throw") throw cadenza::sdk::PluginError("failed after writing");
    }
  }
};

}  // namespace

CADENZA_STAGE_PLUGIN(TestWorker, "stage_test_worker", "0.1.0", "Test stage driven by params")
