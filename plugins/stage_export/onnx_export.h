// model.onnx for either amp model family: the trained weights with the
// normalisation folded in, built by onnx_graph, written, read back, checked
// and run by onnx_runner over the test input against the LibTorch prediction.
#pragma once

#include <string>
#include <vector>

namespace cadenza::amp {
struct AmpModel;
}

namespace cadenza::exporter {

struct OnnxReport {
  std::string file;            // the path written
  double max_deviation = 0;    // |ONNX - LibTorch| over the test split, raw units
  int64_t block_samples = 0;   // sequence model: the block size the check streamed in
  double check_seconds = 0;    // checker + the reference run over the test split
};

// Writes `path` and verifies it. `input_raw` is the test input and
// `prediction` the LibTorch prediction of it (both raw units); the run must
// stay within `tolerance` of it. Throws std::runtime_error naming the path
// and the problem (a file that cannot be written, a deviation over the
// tolerance).
OnnxReport export_onnx(const amp::AmpModel& model, const std::string& path, const std::string& producer_version,
                       const std::vector<float>& input_raw, const std::vector<float>& prediction, double tolerance);

}  // namespace cadenza::exporter
