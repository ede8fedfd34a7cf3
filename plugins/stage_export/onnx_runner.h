// A small reference evaluator for ONNX files, without LibTorch and without
// ONNX Runtime (Debian packages no ONNX Runtime library): it runs a model
// read back from disk, node by node, following the operator definitions of
// the ONNX specification. It knows exactly the operators stage_export emits
// (Add, Concat, Conv, Identity, LSTM, MatMul, Mul, Slice, Squeeze,
// Transpose, Unsqueeze, in the forms the exporter uses) and refuses any
// other by name, so it can check an export but is no general runtime.
//
// The export stage runs every model.onnx it writes over the test input with
// it; CI also runs the same files in ONNX Runtime (tests/onnx/check_onnx.js).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace cadenza::onnx_runner {

struct Tensor {
  std::vector<int64_t> dims;
  std::vector<float> data;  // row-major
};

class Runner {
 public:
  // `bytes`: a serialised ModelProto. Throws std::runtime_error naming
  // `path` when it does not parse, or names an operator, attribute or input
  // form this evaluator does not implement.
  Runner(const std::string& bytes, const std::string& path);
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // Every graph input must be given, with the declared fixed dimensions.
  // Returns the graph outputs by name. Throws std::runtime_error.
  std::map<std::string, Tensor> run(const std::map<std::string, Tensor>& inputs) const;

  std::vector<std::string> input_names() const;

 private:
  struct Graph;
  std::unique_ptr<Graph> graph_;  // owned: the parsed nodes and initializers
};

}  // namespace cadenza::onnx_runner
