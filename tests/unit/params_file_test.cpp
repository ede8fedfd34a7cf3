#include "params_file.h"

#include <gmock/gmock.h>

#include "test_util.h"

namespace cadenza {
namespace {

using nlohmann::json;
using test::error_of;
using ::testing::HasSubstr;

// A params.yaml as people write them: comments, anchors and an alias, flow
// lists and maps, every quoting style, a key order no dumper keeps.
const std::string kYaml =
    "# Training hyperparameters\n"
    "base: &base\n"
    "  sample_rate: 44100   # Hz\n"
    "train:\n"
    "  learning_rate: 0.005  # Adam\n"
    "  epochs: 30\n"
    "  optimizer: 'adam'\n"
    "  run_name: \"first run\"\n"
    "  shuffle: true\n"
    "  defaults: *base\n"
    "model:\n"
    "  hidden_units: 36\n"
    "  kernels: [12, 12]   # conv1, conv2\n"
    "  shape: {width: 16, depth: 2}\n"
    "  family: windowed\n";

std::string edit(const std::string& text, const std::string& name, const std::string& key, const json& v) {
  return ParamsFile::parse(text, name).edited(key, v, "--set " + key);
}

// Only the edited scalar's bytes differ.
void expect_only_changed(const std::string& before, const std::string& after, const std::string& old_text,
                         const std::string& new_text) {
  const size_t at = before.find(old_text);
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(after, before.substr(0, at) + new_text + before.substr(at + old_text.size()));
}

TEST(ParamsFile, ReadsKeysTypedByYamlsCoreSchema) {
  const ParamsFile f = ParamsFile::parse(kYaml, "params.yaml");
  EXPECT_EQ(f.value("train.learning_rate"), 0.005);
  EXPECT_TRUE(f.value("train.epochs").is_number_integer());
  EXPECT_EQ(f.value("train.optimizer"), "adam");
  EXPECT_EQ(f.value("train.shuffle"), true);
  EXPECT_EQ(f.value("model.kernels.1"), 12);
  EXPECT_EQ(f.value("model.shape"), json::parse(R"({"width":16,"depth":2})"));
  EXPECT_EQ(f.value("train.defaults.sample_rate"), 44100);  // through the alias
  EXPECT_EQ(ParamsFile::parse("v: '12'\n", "p.yaml").value("v"), "12");  // quoted: a string
}

TEST(ParamsFile, EditsOneScalarAndKeepsEverythingElseByteForByte) {
  expect_only_changed(kYaml, edit(kYaml, "params.yaml", "train.learning_rate", 0.001), "0.005  # Adam",
                      "0.001  # Adam");
  expect_only_changed(kYaml, edit(kYaml, "params.yaml", "train.epochs", 5), "epochs: 30", "epochs: 5");
  expect_only_changed(kYaml, edit(kYaml, "params.yaml", "train.optimizer", "sgd"), "'adam'", "'sgd'");
  expect_only_changed(kYaml, edit(kYaml, "params.yaml", "train.run_name", "say \"hi\""), "\"first run\"",
                      R"("say \"hi\"")");
  expect_only_changed(kYaml, edit(kYaml, "params.yaml", "train.shuffle", false), "shuffle: true", "shuffle: false");
  expect_only_changed(kYaml, edit(kYaml, "params.yaml", "model.kernels.1", 8), "[12, 12]", "[12, 8]");
  expect_only_changed(kYaml, edit(kYaml, "params.yaml", "model.shape.depth", 3), "depth: 2}", "depth: 3}");
  expect_only_changed(kYaml, edit(kYaml, "params.yaml", "model.family", "sequence"), "family: windowed",
                      "family: sequence");
}

TEST(ParamsFile, FloatsStayFloatsForEveryReader) {
  // PyYAML (YAML 1.1) reads 1e-05 as a string: written with a '.'.
  const std::string out = edit(kYaml, "params.yaml", "train.learning_rate", 1e-5);
  EXPECT_THAT(out, HasSubstr("learning_rate: 1.0e-05  # Adam"));
  EXPECT_THAT(edit(kYaml, "params.yaml", "train.learning_rate", 1), HasSubstr("learning_rate: 1.0  #"));
  EXPECT_EQ(ParamsFile::parse(out, "params.yaml").value("train.learning_rate"), 1e-5);
}

TEST(ParamsFile, StringsThatWouldReadAsSomethingElseAreQuoted) {
  EXPECT_THAT(edit(kYaml, "params.yaml", "model.family", "true"), HasSubstr("family: \"true\"\n"));
  EXPECT_THAT(edit(kYaml, "params.yaml", "model.family", 12), HasSubstr("family: \"12\"\n"));
  EXPECT_THAT(edit(kYaml, "params.yaml", "model.family", "a: b"), HasSubstr("family: \"a: b\"\n"));
}

TEST(ParamsFile, KeepsCrlfLineEndings) {
  const std::string crlf = "train:\r\n  lr: 0.1\r\n  epochs: 3\r\n";
  EXPECT_EQ(edit(crlf, "params.yaml", "train.lr", 0.2), "train:\r\n  lr: 0.2\r\n  epochs: 3\r\n");
}

TEST(ParamsFile, AnchoredScalarsAndTheirAliases) {
  // Editing the anchor would change the alias too: refused, not guessed.
  const std::string shared = "a: &lr 0.1\nb: *lr\n";
  EXPECT_THAT(error_of([&] { edit(shared, "params.yaml", "a", 0.2); }), HasSubstr("cannot be edited on its own"));
  EXPECT_THAT(error_of([&] { edit(shared, "params.yaml", "b", 0.2); }), HasSubstr("cannot be edited on its own"));
  // An anchor nobody refers to is kept with the new value.
  EXPECT_EQ(edit("a: &lr 0.1\nb: 2\n", "params.yaml", "a", 0.2), "a: &lr 0.2\nb: 2\n");
}

TEST(ParamsFile, ErrorsNameTheFileTheKeyAndWhatToDo) {
  EXPECT_THAT(error_of([] { edit(kYaml, "params.yaml", "train.lr", 0.1); }),
              HasSubstr("params.yaml: no key 'train.lr' ('train' has: defaults, epochs, learning_rate"));
  EXPECT_THAT(error_of([] { edit(kYaml, "params.yaml", "train", 0.1); }),
              HasSubstr("params.yaml key 'train' is a section (with defaults, epochs"));
  EXPECT_THAT(error_of([] { edit(kYaml, "params.yaml", "model.kernels", 3); }), HasSubstr("is a list"));
  EXPECT_THAT(error_of([] { edit(kYaml, "params.yaml", "train.epochs", "abc"); }),
              HasSubstr("key 'train.epochs' is an integer (30) in the file; the new value \"abc\" is a string"));
  EXPECT_THAT(error_of([] { edit(kYaml, "params.yaml", "train.epochs", 2.5); }), HasSubstr("is an integer"));
  EXPECT_THAT(error_of([] { edit(kYaml, "params.yaml", "train.shuffle", 1); }), HasSubstr("is a bool"));
  EXPECT_THAT(error_of([] { edit("t: |\n  text\n", "params.yaml", "t", "x"); }), HasSubstr("block scalar"));
  EXPECT_THAT(error_of([] { ParamsFile::parse("a: [1, 2\n", "params.yaml"); }), HasSubstr("params.yaml:"));
}

TEST(ParamsFile, JsonFilesAreEditedInPlaceToo) {
  const std::string text = "{\n  \"train\": {\"lr\": 0.01, \"name\": \"a\"},\n  \"epochs\": 3\n}\n";
  EXPECT_EQ(edit(text, "params.json", "train.lr", 0.02),
            "{\n  \"train\": {\"lr\": 0.02, \"name\": \"a\"},\n  \"epochs\": 3\n}\n");
  EXPECT_EQ(edit(text, "params.json", "train.name", "b c"),
            "{\n  \"train\": {\"lr\": 0.01, \"name\": \"b c\"},\n  \"epochs\": 3\n}\n");
  EXPECT_THAT(error_of([] { ParamsFile::parse("{\"a\": }", "params.json"); }), HasSubstr("params.json: not valid JSON"));
}

TEST(ParamsFile, TomlFilesAreEditedInPlaceToo) {
  const std::string text = "# params\n[train]\nlr = 0.01 # step\nname = 'a'\nepochs = 3\n";
  EXPECT_EQ(edit(text, "params.toml", "train.lr", 0.5), "# params\n[train]\nlr = 0.5 # step\nname = 'a'\nepochs = 3\n");
  EXPECT_EQ(edit(text, "params.toml", "train.name", "b"), "# params\n[train]\nlr = 0.01 # step\nname = 'b'\nepochs = 3\n");
  EXPECT_EQ(edit(text, "params.toml", "train.epochs", 7), "# params\n[train]\nlr = 0.01 # step\nname = 'a'\nepochs = 7\n");
}

}  // namespace
}  // namespace cadenza
