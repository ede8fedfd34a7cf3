#include "onnx_runner.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <stdexcept>

namespace cadenza::onnx_runner {

namespace {

using Dims = std::vector<int64_t>;

// A value in the graph: float data, or int64 data (axes, starts, ends).
struct Value {
  Dims dims;
  std::vector<float> f;
  std::vector<int64_t> i;
};

int64_t count(const Dims& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

Dims strides_of(const Dims& dims) {
  Dims s(dims.size(), 1);
  for (int k = static_cast<int>(dims.size()) - 2; k >= 0; --k) s[k] = s[k + 1] * dims[k + 1];
  return s;
}

// Cadenza's evaluator checks stage_export's own graphs; any other ONNX file
// belongs in ONNX Runtime (scripts/onnxruntime/check_onnx.js).
constexpr const char* kOutsideScope =
    "stage_export never emits this operator; Cadenza's evaluator checks only stage_export's own graphs (run other "
    "ONNX files in ONNX Runtime)";
const char* const kOperators[] = {"Add", "Concat", "Conv", "Identity", "LSTM", "MatMul",
                                  "Mul", "Slice", "Squeeze", "Transpose", "Unsqueeze"};

[[noreturn]] void fail(const onnx::NodeProto& n, const std::string& what) {
  throw std::runtime_error("node '" + n.name() + "' (" + n.op_type() + "): " + what);
}

const onnx::AttributeProto* attribute(const onnx::NodeProto& n, const std::string& name) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

int64_t int_attr(const onnx::NodeProto& n, const std::string& name, int64_t def) {
  const auto* a = attribute(n, name);
  return a ? a->i() : def;
}

Dims ints_attr(const onnx::NodeProto& n, const std::string& name, Dims def) {
  const auto* a = attribute(n, name);
  return a ? Dims(a->ints().begin(), a->ints().end()) : def;
}

// A tensor's elements, from raw_data (little-endian bytes) or the typed field.
template <typename T, typename Typed>
std::vector<T> elements(const onnx::TensorProto& t, const Typed& typed, int64_t n) {
  std::vector<T> out(typed.begin(), typed.end());
  if (!t.raw_data().empty()) {
    out.resize(t.raw_data().size() / sizeof(T));
    std::memcpy(out.data(), t.raw_data().data(), out.size() * sizeof(T));
  }
  if (static_cast<int64_t>(out.size()) != n) throw std::runtime_error("initializer '" + t.name() + "': size does not match its dims");
  return out;
}

Value from_proto(const onnx::TensorProto& t) {
  Value v;
  v.dims.assign(t.dims().begin(), t.dims().end());
  if (t.data_type() == onnx::TensorProto::FLOAT) {
    v.f = elements<float>(t, t.float_data(), count(v.dims));
  } else if (t.data_type() == onnx::TensorProto::INT64) {
    v.i = elements<int64_t>(t, t.int64_data(), count(v.dims));
  } else {
    throw std::runtime_error("initializer '" + t.name() + "': data type " + std::to_string(t.data_type()) +
                             " (only float and int64 are implemented)");
  }
  return v;
}

int64_t axis_in(const onnx::NodeProto& n, int64_t axis, size_t rank) {
  const int64_t r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r) fail(n, "axis " + std::to_string(axis) + " outside rank " + std::to_string(r));
  return axis < 0 ? axis + r : axis;
}

// Numpy-style broadcasting of two float tensors.
Value broadcast(const onnx::NodeProto& n, const Value& a, const Value& b, const std::function<float(float, float)>& op) {
  const size_t rank = std::max(a.dims.size(), b.dims.size());
  auto padded = [rank](const Dims& d) {
    Dims p(rank - d.size(), 1);
    p.insert(p.end(), d.begin(), d.end());
    return p;
  };
  const Dims da = padded(a.dims), db = padded(b.dims);
  Value out;
  for (size_t k = 0; k < rank; ++k) {
    if (da[k] != db[k] && da[k] != 1 && db[k] != 1) fail(n, "shapes do not broadcast");
    out.dims.push_back(std::max(da[k], db[k]));
  }
  const Dims so = strides_of(out.dims), sa = strides_of(da), sb = strides_of(db);
  out.f.resize(count(out.dims));
  for (int64_t idx = 0; idx < static_cast<int64_t>(out.f.size()); ++idx) {
    int64_t ia = 0, ib = 0, rest = idx;
    for (size_t k = 0; k < rank; ++k) {
      const int64_t c = rest / so[k];
      rest %= so[k];
      ia += (da[k] == 1 ? 0 : c) * sa[k];
      ib += (db[k] == 1 ? 0 : c) * sb[k];
    }
    out.f[idx] = op(a.f[ia], b.f[ib]);
  }
  return out;
}

// A [..., M, K] x B [K, N]: the only MatMul form the exporter emits.
Value matmul(const onnx::NodeProto& n, const Value& a, const Value& b) {
  if (b.dims.size() != 2 || a.dims.empty() || a.dims.back() != b.dims[0]) fail(n, "stage_export emits only [..., K] x [K, N]");
  const int64_t k = b.dims[0], cols = b.dims[1], rows = count(a.dims) / k;
  Value out;
  out.dims = a.dims;
  out.dims.back() = cols;
  out.f.assign(rows * cols, 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < k; ++j) {
      const float x = a.f[r * k + j];
      for (int64_t c = 0; c < cols; ++c) out.f[r * cols + c] += x * b.f[j * cols + c];
    }
  return out;
}

// 1-D convolution: X [N, C, L], W [M, C, K], B [M]; group 1, dilation 1.
Value conv(const onnx::NodeProto& n, const Value& x, const Value& w, const Value* bias) {
  if (x.dims.size() != 3 || w.dims.size() != 3 || w.dims[1] != x.dims[1]) fail(n, "stage_export emits only 1-D, group 1 convolutions");
  if (int_attr(n, "group", 1) != 1 || ints_attr(n, "dilations", {1}) != Dims{1}) fail(n, "group and dilations must be 1");
  if (attribute(n, "auto_pad") && attribute(n, "auto_pad")->s() != "NOTSET") fail(n, "stage_export never emits auto_pad (it gives explicit pads)");
  const int64_t batch = x.dims[0], c_in = x.dims[1], len = x.dims[2], c_out = w.dims[0], kernel = w.dims[2];
  const int64_t stride = ints_attr(n, "strides", {1}).at(0);
  const Dims pads = ints_attr(n, "pads", {0, 0});
  const int64_t out_len = (len + pads.at(0) + pads.at(1) - kernel) / stride + 1;
  Value out;
  out.dims = {batch, c_out, out_len};
  out.f.assign(count(out.dims), 0.0f);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t m = 0; m < c_out; ++m)
      for (int64_t t = 0; t < out_len; ++t) {
        float sum = bias ? bias->f[m] : 0.0f;
        for (int64_t c = 0; c < c_in; ++c)
          for (int64_t k = 0; k < kernel; ++k) {
            const int64_t pos = t * stride + k - pads[0];
            if (pos >= 0 && pos < len) sum += x.f[(b * c_in + c) * len + pos] * w.f[(m * c_in + c) * kernel + k];
          }
        out.f[(b * c_out + m) * out_len + t] = sum;
      }
  return out;
}

Value transpose(const onnx::NodeProto& n, const Value& x) {
  const Dims perm = ints_attr(n, "perm", {});
  if (perm.size() != x.dims.size()) fail(n, "perm must name every axis");
  Value out;
  for (int64_t p : perm) out.dims.push_back(x.dims.at(p));
  const Dims si = strides_of(x.dims), so = strides_of(out.dims);
  out.f.resize(x.f.size());
  for (int64_t idx = 0; idx < static_cast<int64_t>(out.f.size()); ++idx) {
    int64_t src = 0, rest = idx;
    for (size_t k = 0; k < perm.size(); ++k) {
      src += (rest / so[k]) * si[perm[k]];
      rest %= so[k];
    }
    out.f[idx] = x.f[src];
  }
  return out;
}

float sigmoid(float v) { return 1.0f / (1.0f + std::exp(-v)); }

// ONNX LSTM, forward, default activations: gates stacked i, o, f, c in W, R
// and each half of B. X [S, B, I]; outputs Y [S, 1, B, H], Y_h, Y_c [1, B, H].
std::vector<Value> lstm(const onnx::NodeProto& n, const std::vector<const Value*>& in) {
  if (attribute(n, "activations") || attribute(n, "clip") || int_attr(n, "input_forget", 0) != 0 ||
      int_attr(n, "layout", 0) != 0 || (attribute(n, "direction") && attribute(n, "direction")->s() != "forward"))
    fail(n, "stage_export emits only the forward LSTM with default activations, layout 0");
  if (in.size() > 4 && in[4]) fail(n, "stage_export never emits sequence_lens");
  if (in.size() > 7 && in[7]) fail(n, "stage_export never emits peepholes");
  const Value &x = *in[0], &w = *in[1], &r = *in[2];
  const int64_t steps = x.dims.at(0), batch = x.dims.at(1), inputs = x.dims.at(2), h = int_attr(n, "hidden_size", 0);
  if (w.dims != Dims{1, 4 * h, inputs} || r.dims != Dims{1, 4 * h, h}) fail(n, "W or R does not match hidden_size");
  std::vector<float> bias(4 * h, 0.0f);
  if (in.size() > 3 && in[3])
    for (int64_t g = 0; g < 4 * h; ++g) bias[g] = in[3]->f.at(g) + in[3]->f.at(4 * h + g);
  std::vector<float> hs(batch * h, 0.0f), cs(batch * h, 0.0f), gates(4 * h);
  if (in.size() > 5 && in[5]) hs = in[5]->f;
  if (in.size() > 6 && in[6]) cs = in[6]->f;
  if (static_cast<int64_t>(hs.size()) != batch * h || static_cast<int64_t>(cs.size()) != batch * h)
    fail(n, "initial_h or initial_c does not match [1, batch, hidden_size]");
  Value y;
  y.dims = {steps, 1, batch, h};
  y.f.resize(count(y.dims));
  for (int64_t t = 0; t < steps; ++t)
    for (int64_t b = 0; b < batch; ++b) {
      const float* xt = &x.f[(t * batch + b) * inputs];
      float* hb = &hs[b * h];
      float* cb = &cs[b * h];
      for (int64_t g = 0; g < 4 * h; ++g) {
        float sum = bias[g];
        for (int64_t k = 0; k < inputs; ++k) sum += w.f[g * inputs + k] * xt[k];
        for (int64_t k = 0; k < h; ++k) sum += r.f[g * h + k] * hb[k];
        gates[g] = sum;
      }
      for (int64_t k = 0; k < h; ++k) {
        const float i = sigmoid(gates[k]), o = sigmoid(gates[h + k]), f = sigmoid(gates[2 * h + k]);
        const float c = std::tanh(gates[3 * h + k]);
        cb[k] = f * cb[k] + i * c;
        hb[k] = o * std::tanh(cb[k]);
      }
      std::copy(hb, hb + h, &y.f[(t * batch + b) * h]);
    }
  Value yh{{1, batch, h}, hs, {}}, yc{{1, batch, h}, cs, {}};
  return {y, yh, yc};
}

Value squeeze(const onnx::NodeProto& n, const Value& x, const Value& axes) {
  std::vector<bool> drop(x.dims.size(), false);
  for (int64_t a : axes.i) {
    const int64_t k = axis_in(n, a, x.dims.size());
    if (x.dims[k] != 1) fail(n, "axis " + std::to_string(a) + " has size " + std::to_string(x.dims[k]));
    drop[k] = true;
  }
  Value out = x;
  out.dims.clear();
  for (size_t k = 0; k < x.dims.size(); ++k)
    if (!drop[k]) out.dims.push_back(x.dims[k]);
  return out;
}

Value unsqueeze(const onnx::NodeProto& n, const Value& x, const Value& axes) {
  const size_t rank = x.dims.size() + axes.i.size();
  std::vector<bool> inserted(rank, false);
  for (int64_t a : axes.i) inserted[axis_in(n, a, rank)] = true;
  Value out = x;
  out.dims.clear();
  size_t from = 0;
  for (size_t k = 0; k < rank; ++k) out.dims.push_back(inserted[k] ? 1 : x.dims.at(from++));
  return out;
}

// Slice along the given axes, step 1.
Value slice(const onnx::NodeProto& n, const std::vector<const Value*>& in) {
  const Value& x = *in[0];
  if (in.size() > 4 && in[4])
    for (int64_t s : in[4]->i)
      if (s != 1) fail(n, "stage_export emits only step 1");
  Dims begin(x.dims.size(), 0), end = x.dims;
  for (size_t j = 0; j < in[1]->i.size(); ++j) {
    const int64_t k = axis_in(n, in.size() > 3 && in[3] ? in[3]->i.at(j) : static_cast<int64_t>(j), x.dims.size());
    auto clamp = [&](int64_t v) { return std::clamp(v < 0 ? v + x.dims[k] : v, int64_t{0}, x.dims[k]); };
    begin[k] = clamp(in[1]->i[j]);
    end[k] = std::max(begin[k], clamp(in[2]->i.at(j)));
  }
  Value out;
  for (size_t k = 0; k < x.dims.size(); ++k) out.dims.push_back(end[k] - begin[k]);
  const Dims si = strides_of(x.dims), so = strides_of(out.dims);
  out.f.resize(count(out.dims));
  for (int64_t idx = 0; idx < static_cast<int64_t>(out.f.size()); ++idx) {
    int64_t src = 0, rest = idx;
    for (size_t k = 0; k < x.dims.size(); ++k) {
      src += (rest / so[k] + begin[k]) * si[k];
      rest %= so[k];
    }
    out.f[idx] = x.f[src];
  }
  return out;
}

Value concat(const onnx::NodeProto& n, const std::vector<const Value*>& in) {
  const int64_t axis = axis_in(n, int_attr(n, "axis", 0), in.at(0)->dims.size());
  Value out;
  out.dims = in[0]->dims;
  out.dims[axis] = 0;
  for (const Value* v : in) out.dims[axis] += v->dims.at(axis);
  const int64_t outer = count(Dims(out.dims.begin(), out.dims.begin() + axis));
  for (int64_t o = 0; o < outer; ++o)
    for (const Value* v : in) {
      const int64_t inner = count(Dims(v->dims.begin() + axis, v->dims.end()));
      out.f.insert(out.f.end(), v->f.begin() + o * inner, v->f.begin() + (o + 1) * inner);
    }
  return out;
}

std::vector<Value> evaluate(const onnx::NodeProto& n, const std::vector<const Value*>& in) {
  const std::string& op = n.op_type();
  auto need = [&](size_t k) -> const Value& {
    if (k >= in.size() || !in[k]) fail(n, "input " + std::to_string(k) + " is missing");
    return *in[k];
  };
  if (op == "Add") return {broadcast(n, need(0), need(1), [](float a, float b) { return a + b; })};
  if (op == "Mul") return {broadcast(n, need(0), need(1), [](float a, float b) { return a * b; })};
  if (op == "MatMul") return {matmul(n, need(0), need(1))};
  if (op == "Conv") return {conv(n, need(0), need(1), in.size() > 2 ? in[2] : nullptr)};
  if (op == "Transpose") return {transpose(n, need(0))};
  if (op == "LSTM") {
    for (size_t k : {0, 1, 2}) need(k);
    return lstm(n, in);
  }
  if (op == "Squeeze") return {squeeze(n, need(0), need(1))};
  if (op == "Unsqueeze") return {unsqueeze(n, need(0), need(1))};
  if (op == "Slice") {
    for (size_t k : {0, 1, 2}) need(k);
    return {slice(n, in)};
  }
  if (op == "Concat") return {concat(n, in)};
  if (op == "Identity") return {need(0)};
  fail(n, kOutsideScope);
}

}  // namespace

struct Runner::Graph {
  onnx::GraphProto proto;
  std::map<std::string, Value> initializers;
};

Runner::Runner(const std::string& bytes, const std::string& path) : graph_(std::make_unique<Graph>()) {
  onnx::ModelProto m;
  if (!m.ParseFromString(bytes)) throw std::runtime_error(path + ": not an ONNX model (the protobuf does not parse)");
  for (const auto& opset : m.opset_import())
    if (opset.domain().empty() || opset.domain() == "ai.onnx")
      if (opset.version() < 14 || opset.version() > 17)
        throw std::runtime_error(path + ": opset " + std::to_string(opset.version()) + "; the evaluator implements 14-17");
  graph_->proto = m.graph();
  // Refuse a graph outside that scope before running any of it.
  for (const auto& n : graph_->proto.node())
    if (std::find(std::begin(kOperators), std::end(kOperators), n.op_type()) == std::end(kOperators))
      throw std::runtime_error(path + ": node '" + n.name() + "' (" + n.op_type() + "): " + kOutsideScope);
  try {
    for (const auto& t : graph_->proto.initializer()) graph_->initializers[t.name()] = from_proto(t);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
}

Runner::~Runner() = default;

std::vector<std::string> Runner::input_names() const {
  std::vector<std::string> names;
  for (const auto& i : graph_->proto.input())
    if (!graph_->initializers.count(i.name())) names.push_back(i.name());
  return names;
}

std::map<std::string, Tensor> Runner::run(const std::map<std::string, Tensor>& inputs) const {
  std::map<std::string, Value> values;
  for (const auto& decl : graph_->proto.input()) {
    if (graph_->initializers.count(decl.name())) continue;
    const auto it = inputs.find(decl.name());
    if (it == inputs.end()) throw std::runtime_error("input '" + decl.name() + "' is not given");
    const auto& shape = decl.type().tensor_type().shape();
    if (shape.dim_size() != static_cast<int>(it->second.dims.size()))
      throw std::runtime_error("input '" + decl.name() + "' has the wrong rank");
    for (int k = 0; k < shape.dim_size(); ++k)
      if (shape.dim(k).has_dim_value() && shape.dim(k).dim_value() != it->second.dims[k])
        throw std::runtime_error("input '" + decl.name() + "' dimension " + std::to_string(k) + " must be " +
                                 std::to_string(shape.dim(k).dim_value()));
    if (count(it->second.dims) != static_cast<int64_t>(it->second.data.size()))
      throw std::runtime_error("input '" + decl.name() + "': data does not match its dims");
    values[decl.name()] = Value{it->second.dims, it->second.data, {}};
  }
  auto find = [&](const std::string& name) -> const Value* {
    if (name.empty()) return nullptr;
    if (auto v = values.find(name); v != values.end()) return &v->second;
    if (auto v = graph_->initializers.find(name); v != graph_->initializers.end()) return &v->second;
    throw std::runtime_error("value '" + name + "' is read before it is computed");
  };
  for (const auto& node : graph_->proto.node()) {
    std::vector<const Value*> in;
    for (const auto& name : node.input()) in.push_back(find(name));
    std::vector<Value> out = evaluate(node, in);
    for (int k = 0; k < node.output_size() && k < static_cast<int>(out.size()); ++k)
      if (!node.output(k).empty()) values[node.output(k)] = std::move(out[k]);
  }
  std::map<std::string, Tensor> result;
  for (const auto& o : graph_->proto.output()) {
    const Value* v = find(o.name());
    result[o.name()] = Tensor{v->dims, v->f};
  }
  return result;
}

}  // namespace cadenza::onnx_runner
