#include "event_reader.h"

#include <cstring>

#include "proto_reader.h"
#include "wire_fields.h"

namespace cadenza::tensorboard {

namespace {

struct Tensor {
  int dtype = 0;
  std::vector<double> numbers;
  std::vector<std::string_view> strings;
};

// Packed (proto3's default) or one value per field.
template <typename T>
void read_numbers(const ProtoReader& r, std::vector<double>& out) {
  if (r.wire_type() != wire::kLengthDelimited) {
    out.push_back(sizeof(T) == 4 ? static_cast<double>(r.as_float()) : r.as_double());
    return;
  }
  const std::string_view packed = r.bytes();
  for (size_t i = 0; i + sizeof(T) <= packed.size(); i += sizeof(T)) {
    T v;
    std::memcpy(&v, packed.data() + i, sizeof v);  // little-endian hosts (x86-64, aarch64)
    out.push_back(static_cast<double>(v));
  }
}

std::optional<Tensor> read_tensor(std::string_view bytes) {
  Tensor t;
  std::string_view content;
  ProtoReader r(bytes);
  while (r.next()) {
    switch (r.field()) {
      case wire::tensor::kDtype: t.dtype = static_cast<int>(r.varint()); break;
      case wire::tensor::kContent: content = r.bytes(); break;
      case wire::tensor::kFloatVal: read_numbers<float>(r, t.numbers); break;
      case wire::tensor::kDoubleVal: read_numbers<double>(r, t.numbers); break;
      case wire::tensor::kStringVal: t.strings.push_back(r.bytes()); break;
      default: break;
    }
  }
  if (!r.ok()) return std::nullopt;
  if (t.numbers.empty() && !content.empty()) {  // tensor_content: the raw little-endian values
    if (t.dtype == wire::kDtFloat && content.size() == 4) {
      float f;
      std::memcpy(&f, content.data(), 4);
      t.numbers.push_back(f);
    } else if (t.dtype == wire::kDtDouble && content.size() == 8) {
      double d;
      std::memcpy(&d, content.data(), 8);
      t.numbers.push_back(d);
    }
  }
  return t;
}

std::string plugin_name(std::string_view metadata) {
  ProtoReader m(metadata);
  while (m.next())
    if (m.field() == wire::metadata::kPluginData) {
      ProtoReader p(m.bytes());
      while (p.next())
        if (p.field() == wire::plugin_data::kPluginName) return std::string(p.bytes());
    }
  return "";
}

std::string_view encoded_audio(std::string_view audio) {
  ProtoReader a(audio);
  while (a.next())
    if (a.field() == wire::audio::kEncoded) return a.bytes();
  return {};
}

// One Summary.Value: a scalar, a clip, or nothing we keep. False: malformed.
bool read_value(std::string_view bytes, ReadEvent& out) {
  std::string tag, plugin;
  std::optional<float> simple;
  std::string_view audio, tensor;
  ProtoReader r(bytes);
  while (r.next()) {
    switch (r.field()) {
      case wire::value::kTag: tag = std::string(r.bytes()); break;
      case wire::value::kSimpleValue: simple = r.as_float(); break;
      case wire::value::kAudio: audio = r.bytes(); break;
      case wire::value::kTensor: tensor = r.bytes(); break;
      case wire::value::kMetadata: plugin = plugin_name(r.bytes()); break;
      default: break;  // image, histo, ...: not ours
    }
  }
  if (!r.ok()) return false;
  if (simple) {
    out.scalars.push_back({tag, *simple});
  } else if (!audio.empty()) {
    if (auto clip = encoded_audio(audio); !clip.empty()) out.audio.push_back({tag, std::string(clip)});
  } else if (!tensor.empty()) {
    auto t = read_tensor(tensor);
    if (!t) return false;
    if ((plugin.empty() || plugin == "scalars") && t->numbers.size() == 1 &&
        (t->dtype == wire::kDtFloat || t->dtype == wire::kDtDouble))
      out.scalars.push_back({tag, t->numbers[0]});
    else if (plugin == "audio" && t->dtype == wire::kDtString && !t->strings.empty())
      out.audio.push_back({tag, std::string(t->strings[0])});  // [[wav, label], ...]: the first clip
  }
  return true;
}

}  // namespace

std::optional<ReadEvent> read_event(std::string_view payload) {
  ReadEvent e;
  ProtoReader r(payload);
  while (r.next()) {
    switch (r.field()) {
      case wire::event::kWallTime: e.wall_time = r.as_double(); break;
      case wire::event::kStep: e.step = static_cast<int64_t>(r.varint()); break;
      case wire::event::kSummary: {
        ProtoReader s(r.bytes());
        while (s.next())
          if (s.field() == wire::summary::kValue && !read_value(s.bytes(), e)) return std::nullopt;
        if (!s.ok()) return std::nullopt;
        break;
      }
      default: break;  // file_version, graph_def, ...
    }
  }
  if (!r.ok()) return std::nullopt;
  return e;
}

}  // namespace cadenza::tensorboard
