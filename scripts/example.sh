#!/usr/bin/env bash
# README command 1: install what is missing, build, run the example workflow
# (synth -> preprocess -> train/export and train_nam/export_nam), then print
# the test metrics and where the results are, and run each model.onnx in
# ONNX Runtime against the LibTorch prediction.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh --with-ml --with-onnxruntime
scripts/build.sh runtime
build/cadenza run workflow.toml "$@"
python3 - <<'PY'
import json, os, subprocess
for name, what in (("export", "windowed conv+LSTM (stage train)"),
                   ("export_nam", "sequence LSTM for Neural Amp Modeler (stage train_nam)")):
    path = f"out/{name}/metrics.json"
    if not os.path.exists(path):
        continue
    m = json.load(open(path))
    t, b = m["test"], m["baselines"]
    print(f"{what}:\n  test ESR {t['esr']:.4f} on {t['seconds']:.1f} s of test audio "
          f"(output = input: {b['identity_esr']:.4f}, best single gain: {b['linear_esr']:.4f}), "
          f"MSE {t['mse']:.3g}, peak error {t['peak_error']:.3g}")
    print(f"  out/{name}/metrics.json, test_prediction.wav (+ test_input/test_target.wav), model.pt")
    if m["nam"]["file"]:
        loud = m["nam"]["loudness_db"]
        loudness = f"{loud:.1f} dB" if loud is not None else "silent"
        print(f"  out/{name}/model.nam: load it in Neural Amp Modeler (loudness {loudness})")
    if m["onnx"]["file"]:
        print(f"  out/{name}/model.onnx: ONNX opset {m['onnx']['opset']}, checked; max deviation from LibTorch "
              f"{m['onnx']['max_deviation_from_libtorch']:.2g} (Cadenza's evaluator)")
        # ONNX Runtime itself; the sequence model streamed in 64-sample blocks.
        run = subprocess.run(["node", "scripts/onnxruntime/check_onnx.js", f"out/{name}", "--block", "64"],
                             capture_output=True, text=True)
        if run.returncode != 0:
            raise SystemExit(f"ONNX Runtime check of out/{name}/model.onnx failed:\n{run.stderr}")
        r = json.loads(run.stdout)
        blocks = f", streamed in blocks of {r['block']}" if r["block"] else ""
        print(f"    in ONNX Runtime {r['onnxruntime']}: max deviation {r['max_deviation']:.2g} over "
              f"{r['samples']} samples{blocks}")
print("TensorBoard: tensorboard --logdir logs/tensorboard")
PY
