#!/usr/bin/env bash
# End to end through ONNX Runtime: the real `cadenza` binary trains tiny
# models of both families (two layers each, and a sequence LSTM with the
# skip connection) on a synthesised recording and exports them; then ONNX
# Runtime (onnxruntime-node) runs every model.onnx over its test input,
# the sequence models streamed in blocks of 64 samples with the state
# carried, and must reproduce test_prediction.wav (the LibTorch prediction).
# Also checks the .nam's loudness and levels and metrics.json's ONNX record.
#
#   tests/onnx/onnxruntime_e2e.sh <cadenza binary>
#
# Without onnxruntime-node (scripts/setup-deps.sh --with-onnxruntime) it
# exits 77, which CTest reports as skipped; under CI=true it fails instead.
set -euo pipefail
cadenza="$1"
check="$(cd "$(dirname "$0")/../../scripts/onnxruntime" && pwd)"

if ! (cd "$check" && node -e "require('onnxruntime-node')" >/dev/null 2>&1); then
  echo "onnxruntime-node is not installed in scripts/onnxruntime (scripts/setup-deps.sh --with-onnxruntime)" >&2
  if [ -n "${CI:-}" ]; then echo "FAIL: CI must run the ONNX Runtime check" >&2; exit 1; fi
  echo "SKIPPED: the ONNX Runtime check" >&2
  exit 77
fi

ws="$(mktemp -d)"
trap 'rm -rf "$ws"' EXIT
cat > "$ws/workflow.toml" <<'EOF'
[workflow]
name = "onnx-check"

[params]
rate = 16000

[stages.synth]
plugin = "synth_pedal"
outs = { dry = "data/dry.wav", wet = "data/wet.wav" }
params = { seed = 3, duration_s = 4.0, sample_rate = "${rate}" }

[stages.preprocess]
plugin = "preprocess"
deps = { input = "data/dry.wav", target = "data/wet.wav" }
outs = { dataset = "out/dataset" }
params = { sample_rate = "${rate}", normalize = "peak", train_ratio = 0.6, val_ratio = 0.2, test_ratio = 0.2 }

[stages.train_windowed]
plugin = "train_lstm"
deps = { dataset = "out/dataset" }
outs = { model = "out/windowed" }
params = { model = "windowed_conv_lstm", hidden_size = 8, layers = 2, input_size = 60, conv1d_filters = 4, conv1d_kernel_size = 6, conv1d_strides = 5, batch_size = 512, epochs = 1, audio_every = 0 }

[stages.export_windowed]
plugin = "export"
deps = { model = "out/windowed", dataset = "out/dataset" }
outs = { export = "out/export_windowed" }
params = { nam = false }

[stages.train_sequence]
plugin = "train_lstm"
deps = { dataset = "out/dataset" }
outs = { model = "out/sequence" }
params = { model = "sequence_lstm", hidden_size = 6, layers = 2, segment_length = 1600, tbptt_length = 400, warmup = 100, batch_size = 4, epochs = 1, audio_every = 0 }

[stages.export_sequence]
plugin = "export"
deps = { model = "out/sequence", dataset = "out/dataset", loudness_input = "data/dry.wav" }
outs = { export = "out/export_sequence" }
params = { input_level_dbu = 12.5, output_level_dbu = 3.0 }

[stages.train_skip]
plugin = "train_lstm"
deps = { dataset = "out/dataset" }
outs = { model = "out/skip" }
params = { model = "sequence_lstm", skip_connection = true, hidden_size = 5, segment_length = 1600, tbptt_length = 400, warmup = 100, batch_size = 4, epochs = 1, audio_every = 0 }

[stages.export_skip]
plugin = "export"
deps = { model = "out/skip", dataset = "out/dataset" }
outs = { export = "out/export_skip" }
params = { nam = false }
EOF

(cd "$ws" && "$cadenza" run -j 2 >"$ws/run.log" 2>&1) || { cat "$ws/run.log"; echo "FAIL: cadenza run" >&2; exit 1; }

for stage in export_windowed export_sequence export_skip; do
  node "$check/check_onnx.js" "$ws/out/$stage" --block 64 | tee "$ws/$stage.ort.json"
done

python3 - "$ws" <<'PY'
import json, math, sys
ws = sys.argv[1]
failures = []
def expect(ok, what):
    if not ok: failures.append(what)
for stage in ("export_windowed", "export_sequence", "export_skip"):
    m = json.load(open(f"{ws}/out/{stage}/metrics.json"))["onnx"]
    ort = json.load(open(f"{ws}/{stage}.ort.json"))
    expect(m["file"] == "model.onnx" and m["checker"] == "passed" and m["opset"] == 17, f"{stage}: metrics.json onnx record {m}")
    expect(m["max_deviation_from_libtorch"] <= ort["tolerance"], f"{stage}: the stage's own check deviates by {m['max_deviation_from_libtorch']}")
    expect(ort["onnxruntime"] == "1.30.0", f"{stage}: ran in ONNX Runtime {ort['onnxruntime']}")
    print(f"{stage}: ONNX Runtime max deviation {ort['max_deviation']:.3g}, stage's evaluator {m['max_deviation_from_libtorch']:.3g}")
nam = json.load(open(f"{ws}/out/export_sequence/model.nam"))["metadata"]
expect(isinstance(nam.get("loudness"), float) and math.isfinite(nam["loudness"]) and -80 < nam["loudness"] < 20, f"loudness {nam.get('loudness')}")
expect(nam.get("input_level_dbu") == 12.5 and nam.get("output_level_dbu") == 3.0, f"levels {nam}")
loud = json.load(open(f"{ws}/out/export_sequence/metrics.json"))["nam"]
expect(loud["loudness_input"].endswith("data/dry.wav") and loud["loudness_db"] == nam["loudness"], f"loudness record {loud}")
if failures:
    print("FAIL:\n  " + "\n  ".join(failures), file=sys.stderr)
    sys.exit(1)
print("ok: three model.onnx files reproduce LibTorch in ONNX Runtime; the .nam carries loudness and levels")
PY
