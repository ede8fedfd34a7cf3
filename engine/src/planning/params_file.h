// A params file (params.yaml, params.json, params.toml), read key by key and
// edited one scalar at a time, the way DVC users keep hyperparameters.
//
// Keys are dotted paths: "train.learning_rate", "layers.0.width" (a number
// indexes a list). A stage that tracks keys of a file gets only those keys'
// values in its cache key, so editing another key, a comment or the layout
// reruns nothing.
//
// Editing replaces the bytes of exactly one scalar and nothing else:
// comments, key order, quoting style, anchors, flow lists and line endings
// stay byte for byte (a load-and-dump round trip would lose them; DVC's
// does: treeverse/dvc#8720). The result is parsed again and must differ from
// the original in that one value only, so an edit that would reach further
// (an alias of the scalar elsewhere, a multi-line scalar) is refused rather
// than guessed at.
//
// YAML and JSON are read with yaml-cpp (Debian's libyaml-cpp), which tells
// where each node starts; JSON values with nlohmann_json; TOML with toml++,
// which tells where each value starts and ends.
#pragma once

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>
#include <string>
#include <vector>

namespace cadenza {

enum class ParamsFormat { kYaml, kJson, kToml };

// A YAML node as JSON, its plain scalars typed as params files read them
// (YAML 1.2's core schema; quoted scalars stay strings).
nlohmann::json yaml_to_json(const YAML::Node& node);

class ParamsFile {
 public:
  // `name` is how errors name the file (its workspace-relative path); its
  // extension picks the format (.yaml/.yml, .json, .toml). Throws Error
  // naming the file, line and column when the text does not parse.
  static ParamsFile parse(const std::string& text, const std::string& name);
  // Reads `path`; errors name it as `name`.
  static ParamsFile read(const std::string& path, const std::string& name);

  // True for the extensions above.
  static bool known_format(const std::string& name);

  // The value at `key` as JSON (a section gives its whole subtree). Throws
  // Error naming the file and the key, with the keys that do exist there.
  nlohmann::json value(const std::string& key) const;
  bool has(const std::string& key) const;
  const nlohmann::json& document() const { return doc_; }

  // The file's text with the scalar at `key` set to `v`, everything else
  // unchanged. The value keeps the scalar's type: an integer for an integer,
  // a number for a float (written so that YAML 1.1 and 1.2 readers both see
  // a float), a bool for a bool; a string takes any scalar's text. Throws
  // Error naming the file, the key and what to do: a missing key, a key
  // that names a section or list, a type change, a scalar it cannot edit
  // in place. `source` names the override in the messages.
  std::string edited(const std::string& key, const nlohmann::json& v, const std::string& source) const;

  const std::string& text() const { return text_; }
  const std::string& name() const { return name_; }

 private:
  std::string text_;
  std::string name_;
  ParamsFormat format_ = ParamsFormat::kYaml;
  nlohmann::json doc_;
};

// "train.lr" -> {"train", "lr"}.
std::vector<std::string> split_key(const std::string& key);

}  // namespace cadenza
