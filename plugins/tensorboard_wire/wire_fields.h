// The one description of TensorBoard's wire format that Cadenza's writer
// (sink_tensorboard) and reader (the script stage's log follower) share:
// the protobuf field numbers of the messages they use, from TensorBoard's
// published protos (tensorboard/compat/proto/event.proto, summary.proto,
// tensor.proto, tensor_shape.proto and the audio and hparams plugins'
// protos). TFRecord framing is in record_framing.h.
#pragma once

namespace cadenza::tensorboard::wire {

namespace event { constexpr int kWallTime = 1, kStep = 2, kFileVersion = 3, kSummary = 5; }
namespace summary { constexpr int kValue = 1; }
namespace value { constexpr int kTag = 1, kSimpleValue = 2, kAudio = 6, kTensor = 8, kMetadata = 9; }
namespace audio { constexpr int kSampleRate = 1, kNumChannels = 2, kLengthFrames = 3, kEncoded = 4, kContentType = 5; }
namespace metadata { constexpr int kPluginData = 1, kDataClass = 4; }
namespace plugin_data { constexpr int kPluginName = 1, kContent = 2; }
namespace tensor {
constexpr int kDtype = 1, kShape = 2, kContent = 4, kFloatVal = 5, kDoubleVal = 6, kStringVal = 8;
}
namespace shape { constexpr int kDim = 2; }
namespace dim { constexpr int kSize = 1; }
namespace hparams { constexpr int kExperiment = 2, kSessionStart = 3, kSessionEnd = 4; }
namespace experiment { constexpr int kTimeCreated = 3, kHparamInfos = 4, kMetricInfos = 5; }
namespace hparam_info { constexpr int kName = 1, kType = 4; }
namespace metric_info { constexpr int kName = 1; }
namespace metric_name { constexpr int kGroup = 1, kTag = 2; }
namespace session_start { constexpr int kHparams = 1, kGroupName = 4, kStartTime = 5; }
namespace session_end { constexpr int kStatus = 1, kEndTime = 2; }
namespace proto_value { constexpr int kNumber = 2, kString = 3, kBool = 4; }

// DataType (types.proto) and the plugin data classes (summary.proto).
constexpr int kDtFloat = 1, kDtDouble = 2, kDtString = 7;
constexpr int kBlobSequence = 3;

// Protobuf wire types.
constexpr int kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5;

}  // namespace cadenza::tensorboard::wire
