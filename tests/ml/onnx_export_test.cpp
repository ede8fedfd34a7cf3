// model.onnx: both families through ONNX's checker and Cadenza's reference
// evaluator against the LibTorch prediction (the sequence LSTM streamed in
// blocks of 64 with its state carried), the gate order against the LSTM
// equations, refusals, and the .nam's loudness. ONNX Runtime itself runs the
// same files in tests/onnx/onnxruntime_e2e.sh.
#include <gmock/gmock.h>
#include <onnx/onnx_pb.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "amp_model.h"
#include "dataset.h"
#include "exporter.h"
#include "ml_test_util.h"
#include "nam_file.h"
#include "onnx_graph.h"
#include "onnx_runner.h"
#include "test_util.h"

namespace cadenza {
namespace {

using ::testing::HasSubstr;
using train::test_util::toy;
using train::test_util::write_dataset;

std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A model directory as stage_train_lstm writes it, with random weights: the
// export must be exact for any weights, and random ones exercise every gate.
void write_random_model(const std::string& dir, amp::ModelSpec spec, const amp::Dataset& d) {
  spec.sample_rate = d.sample_rate;
  spec.input_gain = d.input_gain;
  spec.target_gain = d.target_gain;
  torch::manual_seed(3);
  amp::AmpModel model(spec);
  for (auto& p : model.module()->parameters()) p.data().uniform_(-0.6, 0.6);
  std::filesystem::create_directories(dir);
  model.save(dir + "/model.pt");
  std::ofstream(dir + "/config.json") << spec.to_json().dump();
}

std::vector<float> stream_sequence(const onnx_runner::Runner& runner, const amp::ModelSpec& spec,
                                   const std::vector<float>& input, size_t block, bool carry_state) {
  const onnx_runner::Tensor zeros{{spec.layers, 1, spec.hidden_size}, std::vector<float>(spec.layers * spec.hidden_size, 0.0f)};
  onnx_runner::Tensor h = zeros, c = zeros;
  std::vector<float> out;
  for (size_t s = 0; s < input.size(); s += block) {
    const size_t len = std::min(block, input.size() - s);
    auto r = runner.run({{"input", {{static_cast<int64_t>(len)}, {input.begin() + s, input.begin() + s + len}}},
                         {"h_in", h}, {"c_in", c}});
    out.insert(out.end(), r["output"].data.begin(), r["output"].data.end());
    h = carry_state ? r["h_out"] : zeros;
    c = carry_state ? r["c_out"] : zeros;
  }
  return out;
}

std::vector<float> run_windows(const onnx_runner::Runner& runner, int64_t window, const std::vector<float>& input) {
  std::vector<float> out;
  for (size_t i = 0; i < input.size(); ++i) {
    onnx_runner::Tensor w{{1, window}, std::vector<float>(window, 0.0f)};
    for (int64_t k = 0; k < window; ++k) {
      const int64_t at = static_cast<int64_t>(i) - (window - 1) + k;  // oldest first; silence before the start
      if (at >= 0) w.data[k] = input[at];
    }
    out.push_back(runner.run({{"window", w}}).at("output").data.at(0));
  }
  return out;
}

double max_deviation(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) d = std::max(d, std::abs(static_cast<double>(a[i]) - b[i]));
  return d;
}

class OnnxExport : public ::testing::TestWithParam<std::string> {};

amp::ModelSpec spec_named(const std::string& name) {
  amp::ModelSpec s;
  if (name == "windowed") {
    s.family = "windowed_conv_lstm";
    s.window = 40;
    s.conv_filters = 3;
    s.conv_kernel = 5;
    s.conv_stride = 4;  // 'same' padding on both convolutions: 40 -> 10 -> 3 steps
    s.hidden_size = 5;
    s.layers = 2;
  } else {
    s.hidden_size = 4;
    s.layers = 2;
    s.skip_connection = name == "sequence_skip";
  }
  return s;
}

TEST_P(OnnxExport, TheFileReproducesLibTorchThroughTheCheckerAndAStreamingRun) {
  test::TempDir dir;
  write_dataset(dir.str() + "/data", toy(6000), 1.7, 0.6);  // gains that are not 1: folded into the graph
  const amp::ModelSpec spec = spec_named(GetParam());
  write_random_model(dir.str() + "/model", spec, amp::Dataset::open(dir.str() + "/data"));
  exporter::ExportOptions o;
  o.require_nam = false;
  o.producer_version = "test";
  const auto r = exporter::export_model(dir.str() + "/model", dir.str() + "/data", dir.str() + "/out", o, [](auto&&) {});
  ASSERT_TRUE(r.onnx_written);

  const std::string path = dir.str() + "/out/model.onnx";
  const std::string bytes = bytes_of(path);
  EXPECT_NO_THROW(onnx_graph::check(bytes, path));
  onnx::ModelProto proto;
  ASSERT_TRUE(proto.ParseFromString(bytes));
  EXPECT_EQ(proto.opset_import(0).version(), 17);
  const onnx_runner::Runner runner(bytes, path);
  int rate = 0;
  const auto input = amp::read_wav_mono(dir.str() + "/out/test_input.wav", &rate);
  const auto prediction = amp::read_wav_mono(dir.str() + "/out/test_prediction.wav", &rate);
  ASSERT_EQ(input.size(), 1200u);
  if (spec.family == "sequence_lstm") {
    EXPECT_THAT(runner.input_names(), ::testing::ElementsAre("input", "h_in", "c_in"));
    // As a real-time host streams it: blocks of 64, the state passed on.
    EXPECT_LT(max_deviation(stream_sequence(runner, spec, input, 64, true), prediction), 1e-5);
    // The state matters: dropping it between blocks gives another signal.
    EXPECT_GT(max_deviation(stream_sequence(runner, spec, input, 64, false), prediction), 1e-3);
  } else {
    EXPECT_THAT(runner.input_names(), ::testing::ElementsAre("window"));
    EXPECT_LT(max_deviation(run_windows(runner, spec.window, input), prediction), 1e-5);
  }
  const auto metrics = nlohmann::json::parse(bytes_of(dir.str() + "/out/metrics.json"))["onnx"];
  EXPECT_EQ(metrics["file"], "model.onnx");
  EXPECT_EQ(metrics["checker"], "passed");
  EXPECT_LT(metrics["max_deviation_from_libtorch"].get<double>(), 1e-5);
  EXPECT_EQ(metrics["max_deviation_from_libtorch"].get<double>(), r.onnx.max_deviation);
}

INSTANTIATE_TEST_SUITE_P(BothFamilies, OnnxExport, ::testing::Values("windowed", "sequence", "sequence_skip"));

TEST(OnnxGraph, TheLstmGateOrderAndStateOutputsFollowTheLstmEquations) {
  // hidden 1, input 1, PyTorch's gate order along rows: i, f, g, o.
  onnx_graph::SequenceModel m;
  onnx_graph::LstmLayer layer;
  layer.input_size = layer.hidden_size = 1;
  layer.w_ih = {0.5f, -0.3f, 0.8f, 0.6f};
  layer.w_hh = {0.1f, 0.2f, -0.4f, 0.3f};
  layer.b_ih = {0.01f, 0.02f, 0.03f, 0.04f};
  layer.b_hh = {0.001f, 0.002f, 0.003f, 0.004f};
  m.layers = {layer};
  m.head = {{2.0f}, -0.5f};
  const onnx_runner::Runner runner(onnx_graph::build_sequence(m, {48000, "gates", "test"}), "gates.onnx");
  auto sig = [](double v) { return 1 / (1 + std::exp(-v)); };
  double h = 0.1, c = 0.2;
  const std::vector<float> x = {0.3f, -0.7f, 0.0f};
  auto r = runner.run({{"input", {{3}, x}}, {"h_in", {{1, 1, 1}, {0.1f}}}, {"c_in", {{1, 1, 1}, {0.2f}}}});
  for (size_t t = 0; t < x.size(); ++t) {
    const double i = sig(0.5 * x[t] + 0.1 * h + 0.011), f = sig(-0.3 * x[t] + 0.2 * h + 0.022);
    const double g = std::tanh(0.8 * x[t] - 0.4 * h + 0.033), o = sig(0.6 * x[t] + 0.3 * h + 0.044);
    c = f * c + i * g;
    h = o * std::tanh(c);
    EXPECT_NEAR(r["output"].data[t], 2.0 * h - 0.5, 1e-6) << t;
  }
  EXPECT_NEAR(r["h_out"].data[0], h, 1e-6);
  EXPECT_NEAR(r["c_out"].data[0], c, 1e-6);
}

TEST(OnnxGraph, WeightsOfTheWrongSizeAreABugReportNotAFile) {
  onnx_graph::SequenceModel m;
  onnx_graph::LstmLayer layer;
  layer.input_size = 1;
  layer.hidden_size = 2;
  layer.w_ih = {1, 2, 3};  // 4H x I = 8 values
  m.layers = {layer};
  try {
    onnx_graph::build_sequence(m, {});
    FAIL() << "built a graph from short weights";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("lstm0.W holds 3 values, its shape needs 8"));
  }
  EXPECT_THROW(onnx_graph::build_sequence({}, {}), std::runtime_error);  // no layers
}

TEST(OnnxRunner, RefusesFilesItCannotCheckOrRunByName) {
  try {
    onnx_graph::check("not a protobuf", "/x/model.onnx");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("/x/model.onnx: not an ONNX model"));
  }
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  auto* g = m.mutable_graph();
  g->set_name("g");
  auto declare = [](onnx::ValueInfoProto* v, const char* name) {
    v->set_name(name);
    v->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
    v->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(2);
  };
  declare(g->add_input(), "x");
  declare(g->add_output(), "y");
  auto* n = g->add_node();
  n->set_op_type("Relu");
  n->set_name("relu");
  n->add_input("x");
  n->add_output("y");
  std::string bytes;
  m.SerializeToString(&bytes);
  EXPECT_NO_THROW(onnx_graph::check(bytes, "relu.onnx"));  // valid ONNX...
  try {
    const onnx_runner::Runner runner(bytes, "relu.onnx");
    FAIL() << "accepted an operator stage_export never emits";
  } catch (const std::runtime_error& e) {
    // ...that the evaluator refuses by name, before running any of it.
    EXPECT_THAT(e.what(), HasSubstr("relu.onnx: node 'relu' (Relu): stage_export never emits this operator"));
  }
  n->set_op_type("Identity");
  m.SerializeToString(&bytes);
  const onnx_runner::Runner runner(bytes, "identity.onnx");
  EXPECT_EQ(runner.run({{"x", {{2}, {1, -1}}}}).at("y").data, (std::vector<float>{1, -1}));
  EXPECT_THROW(runner.run({{"x", {{3}, {1, 2, 3}}}}), std::runtime_error);  // declared dimension 2
  n->set_input(0, "nowhere");
  m.SerializeToString(&bytes);
  try {
    onnx_graph::check(bytes, "broken.onnx");
    FAIL() << "the checker accepted a node reading an undefined value";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("broken.onnx: ONNX's checker refuses the graph"));
  }
}

TEST(Export, OnnxFalseWritesNoOnnxAndABadDestinationIsAClearError) {
  test::TempDir dir;
  write_dataset(dir.str() + "/data", toy(4000), 1.0, 1.0);
  write_random_model(dir.str() + "/model", spec_named("sequence"), amp::Dataset::open(dir.str() + "/data"));
  exporter::ExportOptions o;
  o.onnx = false;
  const auto r = exporter::export_model(dir.str() + "/model", dir.str() + "/data", dir.str() + "/out", o, [](auto&&) {});
  EXPECT_FALSE(r.onnx_written);
  EXPECT_FALSE(std::filesystem::exists(dir.str() + "/out/model.onnx"));
  EXPECT_TRUE(std::filesystem::exists(dir.str() + "/out/model.nam"));
  EXPECT_EQ(nlohmann::json::parse(bytes_of(dir.str() + "/out/metrics.json"))["onnx"]["reason"], "onnx = false");

  auto fails_with = [&](const std::string& out, const std::string& expected) {
    try {
      exporter::export_model(dir.str() + "/model", dir.str() + "/data", out, {}, [](auto&&) {});
      ADD_FAILURE() << "exported into " << out;
    } catch (const std::runtime_error& e) {
      EXPECT_THAT(e.what(), HasSubstr(expected));
    }
  };
  const std::string file = dir.write("a_file", "keep me");
  fails_with(file, file + ": exists and is not a directory");
  fails_with(file + "/export", file + "/export: cannot create the export directory");
  EXPECT_EQ(dir.read("a_file"), "keep me");
}

double rms_db(const std::vector<float>& v) {
  double sq = 0;
  for (float x : v) sq += static_cast<double>(x) * x;
  return 20 * std::log10(std::sqrt(sq / static_cast<double>(v.size())));
}

TEST(Export, TheNamCarriesTheLoudnessOfItsOutputOnTheLoudnessInput) {
  test::TempDir dir;
  write_dataset(dir.str() + "/data", toy(6000), 1.7, 0.6);
  write_random_model(dir.str() + "/model", spec_named("sequence"), amp::Dataset::open(dir.str() + "/data"));
  exporter::ExportOptions o;
  o.nam_metadata = {{"name", "loud"}, {"input_level_dbu", 12.5}};
  auto r = exporter::export_model(dir.str() + "/model", dir.str() + "/data", dir.str() + "/out", o, [](auto&&) {});
  int rate = 0;
  auto metadata = nlohmann::json::parse(bytes_of(dir.str() + "/out/model.nam"))["metadata"];
  // Without a loudness input: the model's output on the test split's input.
  EXPECT_NEAR(metadata["loudness"].get<double>(), rms_db(amp::read_wav_mono(dir.str() + "/out/test_prediction.wav", &rate)), 1e-9);
  EXPECT_EQ(metadata["input_level_dbu"], 12.5);
  EXPECT_EQ(r.loudness_input, "the test split's input");

  // With one: the model's output on that signal, as NAM's trainer measures
  // it on its bundled loudness_input.wav.
  std::vector<float> sweep;
  for (int i = 0; i < 8000; ++i) sweep.push_back(0.8f * std::sin(0.0005f * i * i / 8.0f));
  amp::write_wav(dir.str() + "/loudness.wav", sweep, 8000);
  o.loudness_input = dir.str() + "/loudness.wav";
  r = exporter::export_model(dir.str() + "/model", dir.str() + "/data", dir.str() + "/out2", o, [](auto&&) {});
  metadata = nlohmann::json::parse(bytes_of(dir.str() + "/out2/model.nam"))["metadata"];
  const auto played = nam::LstmRunner(nam::read_lstm(dir.str() + "/out2/model.nam")).process(sweep);
  EXPECT_NEAR(metadata["loudness"].get<double>(), rms_db(played), 1e-4);
  EXPECT_NE(metadata["loudness"], nlohmann::json::parse(bytes_of(dir.str() + "/out/model.nam"))["metadata"]["loudness"]);
  EXPECT_EQ(nlohmann::json::parse(bytes_of(dir.str() + "/out2/metrics.json"))["nam"]["loudness_input"], o.loudness_input);
  o.loudness_input = dir.str() + "/missing.wav";
  EXPECT_THROW(exporter::export_model(dir.str() + "/model", dir.str() + "/data", dir.str() + "/out3", o, [](auto&&) {}),
               std::runtime_error);
}

}  // namespace
}  // namespace cadenza
