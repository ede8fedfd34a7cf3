#include "onnx_graph.h"

#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <stdexcept>

namespace cadenza::onnx_graph {

namespace {

using Dims = std::vector<int64_t>;

// A graph under construction: initializers, nodes and fresh names.
class GraphBuilder {
 public:
  explicit GraphBuilder(onnx::GraphProto* g) : g_(g) {}

  std::string floats(const std::string& name, const Dims& dims, const std::vector<float>& values) {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    if (n != static_cast<int64_t>(values.size()))
      throw std::runtime_error("ONNX export: " + name + " holds " + std::to_string(values.size()) +
                               " values, its shape needs " + std::to_string(n) + " (a bug in the exporter)");
    onnx::TensorProto* t = g_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    for (float v : values) t->add_float_data(v);
    return name;
  }

  std::string int64s(const std::string& name, const Dims& values) {
    onnx::TensorProto* t = g_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<int64_t>(values.size()));
    for (int64_t v : values) t->add_int64_data(v);
    return name;
  }

  // Adds a node reading `inputs` ("" for an optional input left out).
  onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs) {
    onnx::NodeProto* n = g_->add_node();
    n->set_op_type(op);
    n->set_name(op + "_" + std::to_string(g_->node_size()));
    for (const auto& i : inputs) n->add_input(i);
    for (const auto& o : outputs) n->add_output(o);
    return n;
  }
  std::string fresh(const std::string& stem) { return stem + "_" + std::to_string(++counter_); }

  std::string unary(const std::string& op, const std::string& x, const std::string& param) {
    const std::string out = fresh(op);
    node(op, {x, param}, {out});
    return out;
  }

  void io(bool input, const std::string& name, const std::vector<std::string>& symbolic, const Dims& dims) {
    onnx::ValueInfoProto* v = input ? g_->add_input() : g_->add_output();
    v->set_name(name);
    auto* tensor = v->mutable_type()->mutable_tensor_type();
    tensor->set_elem_type(onnx::TensorProto::FLOAT);
    auto* shape = tensor->mutable_shape();
    for (size_t i = 0; i < dims.size(); ++i) {
      auto* d = shape->add_dim();
      if (dims[i] < 0) d->set_dim_param(symbolic.at(i));
      else d->set_dim_value(dims[i]);
    }
  }

 private:
  onnx::GraphProto* g_;
  int counter_ = 0;
};

void set_ints(onnx::NodeProto* n, const std::string& name, const Dims& values) {
  onnx::AttributeProto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) a->add_ints(v);
}

void set_int(onnx::NodeProto* n, const std::string& name, int64_t value) {
  onnx::AttributeProto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}

// PyTorch stacks an LSTM's gates as input, forget, cell, output; ONNX as
// input, output, forget, cell.
std::vector<float> to_onnx_gate_order(const std::vector<float>& rows) {
  const size_t block = rows.size() / 4;
  std::vector<float> out;
  out.reserve(rows.size());
  for (int torch_gate : {0, 3, 1, 2}) out.insert(out.end(), rows.begin() + torch_gate * block, rows.begin() + (torch_gate + 1) * block);
  return out;
}

struct LstmOutputs {
  std::string y, y_h, y_c;
};

// One forward LSTM layer over x [S, B, I]; returns Y [S, 1, B, H] and the final state.
LstmOutputs add_lstm(GraphBuilder& b, const LstmLayer& layer, int index, const std::string& x, const std::string& h0,
                     const std::string& c0) {
  const int64_t h = layer.hidden_size, in = layer.input_size;
  const std::string s = std::to_string(index);
  auto expect = [&](const char* what, const std::vector<float>& v, int64_t n) {
    if (static_cast<int64_t>(v.size()) != n)
      throw std::runtime_error("ONNX export: lstm" + s + "." + what + " holds " + std::to_string(v.size()) +
                               " values, its shape needs " + std::to_string(n) + " (a bug in the exporter)");
  };
  expect("W", layer.w_ih, 4 * h * in);
  expect("R", layer.w_hh, 4 * h * h);
  expect("B_ih", layer.b_ih, 4 * h);
  expect("B_hh", layer.b_hh, 4 * h);
  std::vector<float> bias = to_onnx_gate_order(layer.b_ih);
  const std::vector<float> b_hh = to_onnx_gate_order(layer.b_hh);
  bias.insert(bias.end(), b_hh.begin(), b_hh.end());
  const std::string w = b.floats("lstm" + s + ".W", {1, 4 * h, in}, to_onnx_gate_order(layer.w_ih));
  const std::string r = b.floats("lstm" + s + ".R", {1, 4 * h, h}, to_onnx_gate_order(layer.w_hh));
  const std::string bb = b.floats("lstm" + s + ".B", {1, 8 * h}, bias);
  LstmOutputs out{b.fresh("lstm" + s + "_Y"), b.fresh("lstm" + s + "_Y_h"), b.fresh("lstm" + s + "_Y_c")};
  std::vector<std::string> inputs = {x, w, r, bb};
  if (!h0.empty()) inputs.insert(inputs.end(), {"", h0, c0});
  set_int(b.node("LSTM", inputs, {out.y, out.y_h, out.y_c}), "hidden_size", h);
  return out;
}

void check_model(onnx::ModelProto& model, const std::string& what) {
  try {
    onnx::checker::check_model(model);
    onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(/*check_type=*/true, /*strict=*/1));
  } catch (const std::exception& e) {
    throw std::runtime_error(what + ": ONNX's checker refuses the graph: " + e.what());
  }
}

onnx::ModelProto new_model(const Description& d, const std::string& family, const std::string& doc) {
  onnx::ModelProto m;
  m.set_ir_version(kIrVersion);
  m.set_producer_name("cadenza stage_export");
  m.set_producer_version(d.producer_version);
  m.set_doc_string(doc);
  onnx::OperatorSetIdProto* opset = m.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpsetVersion);
  auto meta = [&m](const std::string& k, const std::string& v) {
    auto* p = m.add_metadata_props();
    p->set_key(k);
    p->set_value(v);
  };
  meta("family", family);
  meta("sample_rate", std::to_string(d.sample_rate));
  m.mutable_graph()->set_name(d.name.empty() ? family : d.name);
  return m;
}

std::string finish(onnx::ModelProto& m, const std::string& what) {
  check_model(m, what);
  // Shape inference annotated the graph's intermediate values; keep the file
  // as built, with only the declared inputs and outputs.
  m.mutable_graph()->clear_value_info();
  std::string bytes;
  if (!m.SerializeToString(&bytes)) throw std::runtime_error(what + ": could not serialise the ONNX model");
  return bytes;
}

// output [.., 1] = x [.., H] . w + b, then the trailing axes in `squeeze` dropped.
std::string add_head(GraphBuilder& b, const Head& head, const std::string& x, const Dims& squeeze_axes) {
  const int64_t h = static_cast<int64_t>(head.w.size());
  const std::string y = b.unary("MatMul", x, b.floats("head.w", {h, 1}, head.w));
  const std::string biased = b.unary("Add", y, b.floats("head.b", {1}, {head.b}));
  return b.unary("Squeeze", biased, b.int64s("head.squeeze_axes", squeeze_axes));
}

}  // namespace

std::string build_sequence(const SequenceModel& model, const Description& d) {
  if (model.layers.empty()) throw std::runtime_error("ONNX export: the sequence LSTM has no layers");
  const int64_t layers = static_cast<int64_t>(model.layers.size()), h = model.layers.front().hidden_size;
  onnx::ModelProto m = new_model(d, "sequence_lstm",
                                 "Stateful LSTM, raw samples in and out. Stream it: pass each block of samples as "
                                 "'input' [T] with the previous call's h_out/c_out as h_in/c_in (zeros at first).");
  GraphBuilder b(m.mutable_graph());
  b.io(true, "input", {"T"}, {-1});
  b.io(true, "h_in", {}, {layers, 1, h});
  b.io(true, "c_in", {}, {layers, 1, h});
  std::string x = b.unary("Unsqueeze", "input", b.int64s("input.unsqueeze_axes", {1, 2}));  // [T, 1, 1]
  std::vector<std::string> hs, cs;
  for (int64_t l = 0; l < layers; ++l) {
    auto layer_state = [&](const std::string& state) {
      const std::string out = b.fresh(state + "_layer");
      b.node("Slice", {state, b.int64s(out + ".starts", {l}), b.int64s(out + ".ends", {l + 1}), b.int64s(out + ".axes", {0})}, {out});
      return out;
    };
    const LstmOutputs o = add_lstm(b, model.layers[l], static_cast<int>(l), x, layer_state("h_in"), layer_state("c_in"));
    x = b.unary("Squeeze", o.y, b.int64s(o.y + ".axes", {1}));  // [T, 1, H]
    hs.push_back(o.y_h);
    cs.push_back(o.y_c);
  }
  set_int(b.node("Concat", hs, {"h_out"}), "axis", 0);
  set_int(b.node("Concat", cs, {"c_out"}), "axis", 0);
  const std::string head = add_head(b, model.head, x, {1, 2});  // [T]
  if (model.skip_gain != 0) {
    const std::string skip = b.unary("Mul", "input", b.floats("skip_gain", {1}, {model.skip_gain}));
    b.node("Add", {head, skip}, {"output"});
  } else {
    b.node("Identity", {head}, {"output"});
  }
  b.io(false, "output", {"T"}, {-1});
  b.io(false, "h_out", {}, {layers, 1, h});
  b.io(false, "c_out", {}, {layers, 1, h});
  return finish(m, "ONNX export of the sequence LSTM");
}

std::string build_windowed(const WindowedModel& model, const Description& d) {
  if (model.layers.empty()) throw std::runtime_error("ONNX export: the windowed model has no LSTM layers");
  onnx::ModelProto m = new_model(d, "windowed_conv_lstm",
                                 "Conv1d x2, LSTM, Linear: 'window' [N, W] holds N windows of the W most recent raw "
                                 "samples, oldest first; 'output' [N] is the raw output sample at each window's end.");
  GraphBuilder b(m.mutable_graph());
  b.io(true, "window", {"N", ""}, {-1, model.window});
  std::string x = b.unary("Unsqueeze", "window", b.int64s("window.unsqueeze_axes", {1}));  // [N, 1, W]
  int index = 0;
  for (const Conv1d* c : {&model.conv1, &model.conv2}) {
    const std::string s = "conv" + std::to_string(++index);
    const std::string out = b.fresh(s);
    onnx::NodeProto* n = b.node("Conv", {x, b.floats(s + ".W", {c->out_channels, c->in_channels, c->kernel}, c->w),
                                         b.floats(s + ".B", {c->out_channels}, c->b)}, {out});
    set_ints(n, "kernel_shape", {c->kernel});
    set_ints(n, "strides", {c->stride});
    set_ints(n, "pads", {c->pad_left, c->pad_right});  // Keras 'same', split as the model does
    x = out;
  }
  const std::string steps = b.fresh("steps");
  set_ints(b.node("Transpose", {x}, {steps}), "perm", {2, 0, 1});  // [S, N, F]
  x = steps;
  std::string last;
  for (size_t l = 0; l < model.layers.size(); ++l) {
    const LstmOutputs o = add_lstm(b, model.layers[l], static_cast<int>(l), x, "", "");
    x = b.unary("Squeeze", o.y, b.int64s(o.y + ".axes", {1}));  // [S, N, H]
    last = o.y_h;                                                // [1, N, H]: the last step
  }
  const std::string top = b.unary("Squeeze", last, b.int64s("last_step.axes", {0}));  // [N, H]
  b.node("Identity", {add_head(b, model.head, top, {1})}, {"output"});
  b.io(false, "output", {"N"}, {-1});
  return finish(m, "ONNX export of the windowed model");
}

void check(const std::string& bytes, const std::string& path) {
  onnx::ModelProto m;
  if (!m.ParseFromString(bytes)) throw std::runtime_error(path + ": not an ONNX model (the protobuf does not parse)");
  check_model(m, path);
}

}  // namespace cadenza::onnx_graph
