#include "param_resolver.h"

#include <gmock/gmock.h>

#include "test_util.h"
#include "workflow_parser.h"

namespace cadenza {
namespace {

using sdk::ParamSpec;
using test::error_of;
using ::testing::HasSubstr;

std::vector<ParamSpec> schema() {
  return {ParamSpec::Integer("sample_rate", 44100, "audio rate"),
          ParamSpec::Float("lr", 0.01, "learning rate").bounds(0, 1),
          ParamSpec::String("model", "lstm", "model family", {"lstm", "conv"}),
          ParamSpec::Bool("shuffle", true, "shuffle batches"),
          ParamSpec::StringList("tags", {"a"}, "labels"),
          ParamSpec::Required("name", sdk::ParamType::kString, "run name")};
}

nlohmann::json resolve(const std::string& params, const std::string& shared = "") {
  static Workflow wf;
  wf = parse_workflow_text("[params]\n" + shared + "\n[stages.s]\nplugin = \"p\"\nouts = { o = \"o\" }\nparams = { " +
                               params + " }\n",
                           "w.toml");
  return resolve_params(wf, wf.stages[0], schema());
}

TEST(ParamResolver, FillsDefaultsAndKeepsOnlyDeclaredParams) {
  const auto p = resolve("name = \"x\"");
  EXPECT_EQ(p, nlohmann::json::parse(
                   R"({"sample_rate":44100,"lr":0.01,"model":"lstm","shuffle":true,"tags":["a"],"name":"x"})"));
}

TEST(ParamResolver, ResolvesSharedReferences) {
  const auto p = resolve("name = \"x\", sample_rate = \"${sr}\"", "sr = 48000");
  EXPECT_EQ(p["sample_rate"], 48000);
}

TEST(ParamResolver, IntegerIsAcceptedAsFloat) {
  const auto p = resolve("name = \"x\", lr = 1");
  EXPECT_TRUE(p["lr"].is_number_float());
  EXPECT_EQ(p["lr"], 1.0);
}

TEST(ParamResolver, UnknownParamNamesFilePositionAndKnownParams) {
  const std::string msg = error_of([] { resolve("name = \"x\", lrate = 0.1"); });
  EXPECT_THAT(msg, HasSubstr("w.toml:6:32: stage 's': unknown param 'lrate' for plugin stage_p"));
  EXPECT_THAT(msg, HasSubstr("known params: sample_rate, lr, model"));
}

TEST(ParamResolver, WrongTypeNamesPositionAndType) {
  EXPECT_THAT(error_of([] { resolve("name = \"x\", sample_rate = \"fast\""); }),
              HasSubstr("w.toml:6:38: stage 's' param 'sample_rate' must be an integer (audio rate), not a string"));
  EXPECT_THAT(error_of([] { resolve("name = \"x\", shuffle = 1"); }),
              HasSubstr("param 'shuffle' must be a bool"));
  EXPECT_THAT(error_of([] { resolve("name = \"x\", tags = [1]"); }),
              HasSubstr("param 'tags' must be a string list"));
}

TEST(ParamResolver, WrongTypeThroughReferenceNamesBothPlaces) {
  EXPECT_THAT(error_of([] { resolve("name = \"x\", sample_rate = \"${sr}\"", "sr = \"high\""); }),
              HasSubstr("(via [params].sr at w.toml:2:6)"));
}

TEST(ParamResolver, UndefinedReference) {
  EXPECT_THAT(error_of([] { resolve("name = \"x\", sample_rate = \"${nope}\""); }),
              HasSubstr("refers to shared param 'nope', which [params] does not define"));
}

TEST(ParamResolver, PartialReferenceIsRejected) {
  EXPECT_THAT(error_of([] { resolve("name = \"run-${sr}\"", "sr = 1"); }),
              HasSubstr("must be the whole value"));
}

TEST(ParamResolver, ChoicesAndBounds) {
  EXPECT_THAT(error_of([] { resolve("name = \"x\", model = \"gru\""); }),
              HasSubstr("must be one of lstm, conv (got \"gru\")"));
  EXPECT_THAT(error_of([] { resolve("name = \"x\", lr = 2.5"); }),
              HasSubstr("must lie between 0.0 and 1.0 (got 2.5)"));
}

TEST(ParamResolver, MissingRequiredParam) {
  EXPECT_THAT(error_of([] { resolve("lr = 0.1"); }),
              HasSubstr("w.toml:3:1: stage 's' must set param 'name' (string: run name)"));
}

TEST(ParamSpec, FloatDefaultsRoundTrip) {
  EXPECT_EQ(ParamSpec::Float("x", 0.01, "").default_json, "0.01");
  EXPECT_EQ(ParamSpec::Float("x", 1e-7, "").default_json, "1e-07");
  EXPECT_EQ(ParamSpec::Float("x", 3, "").default_json, "3.0");
  EXPECT_EQ(ParamSpec::String("x", "a\"b", "").default_json, R"("a\"b")");
  EXPECT_EQ(ParamSpec::StringList("x", {"a", "b"}, "").default_json, R"(["a","b"])");
}

// A default that depends on another param is resolved to its value, so
// nothing downstream records the sentinel 0.
TEST(ParamResolver, ADefaultThatDependsOnAnotherParamIsResolved) {
  static Workflow wf;
  const std::vector<ParamSpec> family = {
      ParamSpec::String("model", "conv", "family", {"lstm", "conv"}),
      ParamSpec::Integer("hidden", 32, "units").default_when("model", "conv", 36),
      ParamSpec::Float("lr", 0.005, "step").default_when("model", "conv", 0.01)};
  auto with = [&](const std::string& params) {
    wf = parse_workflow_text("[stages.s]\nplugin = \"p\"\nouts = { o = \"o\" }\nparams = { " + params + " }\n", "w.toml");
    return resolve_params(wf, wf.stages[0], family);
  };
  EXPECT_EQ(with(""), nlohmann::json::parse(R"({"model":"conv","hidden":36,"lr":0.01})"));  // by the model's default
  EXPECT_EQ(with("model = \"lstm\""), nlohmann::json::parse(R"({"model":"lstm","hidden":32,"lr":0.005})"));
  EXPECT_EQ(with("hidden = 8")["hidden"], 8);  // a value given wins
}

}  // namespace
}  // namespace cadenza
