#!/usr/bin/env python3
"""Quality per CPU minute: test ESR after a training budget of minutes, for
both model families of stage_train_lstm, on two pedals. Decides the default
model family (issue 4) by measurement.

Every run is a real Cadenza workflow: synth -> preprocess -> train (with
max_minutes = budget, no early stop) -> export (test-split metrics). Stages
run one at a time (-j 1), each training on 2 threads, so budgets are not
shared with another stage.

  pedals:  overdrive (the example's data: seed 7, 30 s) and compfuzz (a
           compressor into a fuzz: long memory; seed 11, 30 s)
  models:  sequence_lstm with the example's settings (hidden 16, segments of
           4410 after a 500-sample warm-up, TBPTT 1024, batch 16, lr 0.005)
           windowed_conv_lstm with the template's defaults (window 150,
           Conv1d 16 filters, kernel 12, stride 12, LSTM 36, batch 4096,
           lr 0.01, MSE)

Usage: bench/model_quality.py [--runs overdrive:0.5,2,10 compfuzz:0.5,2]
                              [--models sequence_lstm,windowed_conv_lstm]
                              [--cadenza build/cadenza] [--keep DIR]
--runs gives each pedal its training budgets in minutes (default: 0.5, 2
and 10 on the demo pedal, 0.5 and 2 on the second: 35 min of training).
Prints a Markdown table: test ESR (and epochs run) per pedal, model, budget.
"""
import argparse, json, os, shutil, subprocess, sys, tempfile, time

PEDALS = {
    "overdrive": 'circuit = "overdrive", seed = 7, duration_s = 30.0, drive = 6.0, tone_hz = 3500.0',
    "compfuzz": 'circuit = "compfuzz", seed = 11, duration_s = 30.0, drive = 8.0, tone_hz = 2500.0',
}
MODELS = {
    "sequence_lstm": 'model = "sequence_lstm", hidden_size = 16, segment_length = 4410, tbptt_length = 1024, '
                     'warmup = 500, batch_size = 16, learning_rate = 0.005',
    "windowed_conv_lstm": 'model = "windowed_conv_lstm"',
}


def workflow(runs, models):
    w = ['[workflow]\nname = "model-quality"\n']
    for p, budgets in runs.items():
        w.append(f'[stages.synth_{p}]\nplugin = "synth_pedal"\n'
                 f'outs = {{ dry = "data/{p}/dry.wav", wet = "data/{p}/wet.wav" }}\nparams = {{ {PEDALS[p]} }}\n')
        w.append(f'[stages.prep_{p}]\nplugin = "preprocess"\n'
                 f'deps = {{ input = "data/{p}/dry.wav", target = "data/{p}/wet.wav" }}\n'
                 f'outs = {{ dataset = "out/{p}/dataset" }}\n'
                 'params = { normalize = "peak", train_ratio = 0.7, val_ratio = 0.1, test_ratio = 0.2 }\n')
        for m in models:
            for b in budgets:
                tag = f"{p}_{m}_{str(b).replace('.', 'p')}"
                w.append(f'[stages.train_{tag}]\nplugin = "train_lstm"\ndeps = {{ dataset = "out/{p}/dataset" }}\n'
                         f'outs = {{ model = "out/{tag}/model" }}\n'
                         f'params = {{ {MODELS[m]}, max_minutes = {b}, epochs = 100000, patience = 100000, '
                         'audio_every = 0, random_seed = 1 }\nresources = { cpus = 2 }\n')
                w.append(f'[stages.export_{tag}]\nplugin = "export"\n'
                         f'deps = {{ model = "out/{tag}/model", dataset = "out/{p}/dataset" }}\n'
                         f'outs = {{ export = "out/{tag}/export" }}\nparams = {{ nam = false }}\nresources = {{ cpus = 2 }}\n')
    return "\n".join(w)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", nargs="+", default=["overdrive:0.5,2,10", "compfuzz:0.5,2"])
    ap.add_argument("--models", default="sequence_lstm,windowed_conv_lstm")
    ap.add_argument("--cadenza", default=os.path.join(os.path.dirname(__file__), "..", "build", "cadenza"))
    ap.add_argument("--keep", help="work in this directory and keep it (reruns reuse finished stages)")
    a = ap.parse_args()
    runs = {r.split(":")[0]: [float(b) for b in r.split(":")[1].split(",")] for r in a.runs}
    models = a.models.split(",")
    root = a.keep or tempfile.mkdtemp(prefix="cadenza-quality-")
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "workflow.toml"), "w") as f:
        f.write(workflow(runs, models))
    total = sum(sum(b) for b in runs.values()) * len(models)
    print(f"training budget in total: {total:.1f} min; workspace {root}", file=sys.stderr, flush=True)
    t0 = time.time()
    subprocess.run([os.path.abspath(a.cadenza), "run", "-j", "1"], cwd=root, check=True)
    print(f"wall time {time.time() - t0:.0f} s", file=sys.stderr)
    width = max(len(b) for b in runs.values())
    print("| pedal | model | test ESR after training for (epochs run) |" + " |" * (width - 1))
    print("|---|---|" + "---|" * width)
    for p, budgets in runs.items():
        for m in models:
            cells = []
            for b in budgets:
                tag = f"{p}_{m}_{str(b).replace('.', 'p')}"
                metrics = json.load(open(os.path.join(root, f"out/{tag}/export/metrics.json")))
                summary = json.load(open(os.path.join(root, f"out/{tag}/model/summary.json")))
                cells.append(f"{b:g} min: {metrics['test']['esr']:.4f} ({summary['epochs_run']})")
            print(f"| {p} | {m} | " + " | ".join(cells) + " |" * (width - len(budgets) + 1))
        base = json.load(open(os.path.join(root, f"out/{p}_{models[0]}_{str(budgets[0]).replace('.', 'p')}/export/metrics.json")))
        print(f"| {p} | baselines: identity / best gain | {base['baselines']['identity_esr']:.4f} / "
              f"{base['baselines']['linear_esr']:.4f} |" + " |" * (width - 1))
    if not a.keep:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
