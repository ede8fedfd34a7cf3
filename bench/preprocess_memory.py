#!/usr/bin/python3
# Debian's interpreter on purpose: python3-torch is installed for it, not for a
# python3 that another installation may put first in PATH.
"""Preprocessing 3 minutes of 44.1 kHz audio: stage_preprocess (streaming,
no windows) vs the template's approach (peak-normalise, split off the last
20 %, materialise stride-1 windows of 150 samples), measured in the same run.

Cadenza's side is a real `cadenza run` of stage_preprocess; its peak memory
is the exec-stage process's own (result.json's peak_rss_mb, from getrusage).
The template's side is re-enacted in Python with torch (the windows as one
float32 tensor, as its DataLoader held them); its peak is this process's
ru_maxrss growth while doing it.

Usage: bench/preprocess_memory.py [--cadenza build/cadenza] [--minutes 3]
Needs python3-torch (scripts/setup-deps.sh --with-bench) for the template side.
"""
import argparse, glob, json, os, resource, shutil, subprocess, tempfile, time

from float_wav import read_float_wav


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cadenza", default=os.path.join(os.path.dirname(__file__), "..", "build", "cadenza"))
    ap.add_argument("--minutes", type=float, default=3.0)
    a = ap.parse_args()
    root = tempfile.mkdtemp(prefix="cadenza-prep-")
    seconds = a.minutes * 60
    with open(os.path.join(root, "workflow.toml"), "w") as f:
        f.write('[stages.synth]\nplugin = "synth_pedal"\nouts = { dry = "dry.wav", wet = "wet.wav" }\n'
                f'params = {{ seed = 7, duration_s = {seconds} }}\n\n'
                '[stages.prep]\nplugin = "preprocess"\ndeps = { input = "dry.wav", target = "wet.wav" }\n'
                'outs = { dataset = "dataset" }\nparams = { train_ratio = 0.7, val_ratio = 0.1, test_ratio = 0.2 }\n')
    subprocess.run([os.path.abspath(a.cadenza), "run"], cwd=root, check=True, stdout=subprocess.DEVNULL)
    result = json.load(open(glob.glob(os.path.join(root, ".cadenza/runs/*/prep/result.json"))[0]))
    audio_mb = 2 * os.path.getsize(os.path.join(root, "dry.wav")) / 1e6  # both files, float32
    print(f"audio: {a.minutes:g} min at 44.1 kHz, {audio_mb:.1f} MB as float32 (input + target)")
    print(f"Cadenza stage_preprocess: {result['run_s']:.2f} s, peak RSS {result['peak_rss_mb']:.1f} MB "
          f"(whole exec-stage process)")

    import torch  # the template's side
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    x = torch.tensor(read_float_wav(os.path.join(root, "dry.wav")))
    y = torch.tensor(read_float_wav(os.path.join(root, "wet.wav")))
    x, y = x / x.abs().max(), y / y.abs().max()
    n_train = int(0.8 * x.numel())
    windows_train = x[:n_train].unfold(0, 150, 1).clone()  # stride-1 windows, materialised
    windows_test = x[n_train:].unfold(0, 150, 1).clone()
    targets = y[149:n_train].clone()
    took = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
    windows_gb = (windows_train.numel() + windows_test.numel()) * 4 / 1e9
    print(f"template (windows of 150, stride 1): {took:.2f} s, peak RSS +{peak:.0f} MB ({windows_gb:.2f} GB of windows)")
    print(f"ratio: the template needs {peak / result['peak_rss_mb']:.0f}x Cadenza's peak memory")
    shutil.rmtree(root)


if __name__ == "__main__":
    main()
