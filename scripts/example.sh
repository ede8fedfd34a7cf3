#!/usr/bin/env bash
# README command 1: install what is missing, build, run the example workflow
# (synth -> preprocess -> train/export and train_nam/export_nam), then print
# the test metrics and where the results are.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh --with-ml
scripts/build.sh runtime
build/cadenza run workflow.toml "$@"
python3 - <<'PY'
import json, os
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
        print(f"  out/{name}/model.nam: load it in Neural Amp Modeler")
print("TensorBoard: tensorboard --logdir logs/tensorboard")
PY
