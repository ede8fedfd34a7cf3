#include "param_resolver.h"

#include <gmock/gmock.h>

#include "test_util.h"
#include "overrides.h"
#include "workflow_parser.h"

namespace cadenza {
namespace {

using nlohmann::json;
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

TEST(ParamResolver, ReferencesInsideStringsBecomeTheirText) {
  EXPECT_EQ(resolve("name = \"run-${sr}-${m}\"", "sr = 1\nm = \"lstm\"")["name"], "run-1-lstm");
  EXPECT_EQ(resolve("name = \"$${HOME}/x\"")["name"], "${HOME}/x");  // escaped: the shell's own
  EXPECT_THAT(error_of([] { resolve("name = \"${HOME}/x\""); }),
              HasSubstr("refers to shared param 'HOME', which [params] does not define; add it there (for a "
                        "shell variable, write $HOME or $${HOME})"));
  EXPECT_THAT(error_of([] { resolve("name = \"a ${sr\"", "sr = 1"); }), HasSubstr("without a closing '}'"));
}

// A script stage's own params: declared by their value in workflow.toml.
TEST(ParamResolver, AnyOtherParamIsTypedByItsValue) {
  static Workflow wf;
  const std::vector<ParamSpec> open = {ParamSpec::Required("cmd", sdk::ParamType::kString, "command"),
                                       ParamSpec::AnyOther("the script's own")};
  wf = parse_workflow_text("[params]\nsr = 8000\n[stages.s]\nplugin = \"p\"\nouts = { o = \"o\" }\n"
                           "params = { cmd = \"x --lr ${sr}\", lr = 0.01, layers = [1, 2], opt = { name = \"adam\" }, "
                           "rate = \"${sr}\" }\n",
                           "w.toml");
  const auto p = resolve_params(wf, wf.stages[0], open);
  EXPECT_EQ(p, json::parse(R"({"cmd":"x --lr 8000","lr":0.01,"layers":[1,2],"opt":{"name":"adam"},"rate":8000})"));
  EXPECT_THAT(error_of([&] { resolve_params(wf, wf.stages[0], schema()); }), HasSubstr("unknown param 'cmd'"));
}

TEST(ParamResolver, AnOverrideOfAnOwnParamKeepsItsType) {
  static Workflow wf;
  const std::vector<ParamSpec> open = {ParamSpec::AnyOther("the script's own")};
  auto with = [&](const std::string& target, const json& v) {
    wf = parse_workflow_text("[stages.s]\nplugin = \"p\"\nouts = { o = \"o\" }\n"
                             "params = { lr = 0.01, epochs = 3, name = \"a\" }\n", "w.toml");
    apply_overrides(wf, {{target, v, "--set " + target + "=" + v.dump()}});
    return resolve_params(wf, wf.stages[0], open);
  };
  EXPECT_EQ(with("s.lr", 1)["lr"], 1.0);
  EXPECT_TRUE(with("s.lr", 1)["lr"].is_number_float());
  EXPECT_EQ(with("s.name", 5)["name"], "5");
  EXPECT_THAT(error_of([&] { with("s.epochs", "abc"); }),
              HasSubstr("--set s.epochs=\"abc\": stage 's' param 'epochs' is an integer (3 in "));
  EXPECT_THAT(error_of([&] { with("s.epochs", "abc"); }), HasSubstr("w.toml), so it cannot take a string (\"abc\")"));
  EXPECT_THAT(error_of([&] { with("s.lrate", 0.1); }),
              HasSubstr("--set s.lrate=0.1: stage 's' param 'lrate' is not in "));
  EXPECT_THAT(error_of([&] { with("s.lrate", 0.1); }),
              HasSubstr("w.toml; a script stage's params are the ones its params table declares: add lrate = "
                        "<value> there first"));
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
