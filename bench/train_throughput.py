#!/usr/bin/python3
# Debian's interpreter on purpose: python3-torch is installed for it, not for a
# python3 that another installation may put first in PATH.
"""Training throughput: Cadenza's stage_train_lstm vs the same model, batch,
segment/window and thread count as a plain PyTorch loop in Python (Debian's
python3-torch: the same LibTorch 1.13.1 underneath), one after the other in
this run. Goal: Cadenza >= 1.1x the Python loop for each model.

Both sides train one epoch on the same training split (the example's
overdrive, 30 s at 44.1 kHz, 70 % train) with 2 threads and count output
samples per second of training (validation excluded on both sides):
  sequence_lstm       segments of 500 warm-up + 4410 samples, TBPTT 1024,
                      batch 16, ESR + DC loss with pre-emphasis, Adam
  windowed_conv_lstm  every stride-1 window of 150 samples once, batch 4096,
                      Conv1d x2 (16 filters, kernel 12, stride 12, 'same')
                      -> LSTM -> Linear on the last step, MSE, Adam
for LSTM hidden sizes 32 and 64.

Usage: bench/train_throughput.py [--cadenza build/cadenza] [--hidden 32,64] [--repeat 3]
Needs python3-torch (scripts/setup-deps.sh --with-bench).
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time

import torch
import torch.nn as nn
import torch.nn.functional as F

from float_wav import read_float_wav

THREADS = 2
SEQ = dict(segment=4410, warmup=500, tbptt=1024, batch=16, lr=0.005, emphasis=0.95)
WIN = dict(window=150, filters=16, kernel=12, stride=12, batch=4096, lr=0.01)


class SequenceLstm(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.lstm = nn.LSTM(1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x, state=None):
        out, state = self.lstm(x, state)
        return self.head(out), state


def same_padding(length, kernel, stride):
    out = (length + stride - 1) // stride
    total = max((out - 1) * stride + kernel - length, 0)
    return total // 2, total - total // 2


class WindowedConvLstm(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        w, f, k, s = WIN["window"], WIN["filters"], WIN["kernel"], WIN["stride"]
        self.pad1 = same_padding(w, k, s)
        self.pad2 = same_padding((w + s - 1) // s, k, s)
        self.conv1 = nn.Conv1d(1, f, k, stride=s)
        self.conv2 = nn.Conv1d(f, f, k, stride=s)
        self.lstm = nn.LSTM(f, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, windows):
        x = self.conv1(F.pad(windows.unsqueeze(1), self.pad1))
        x = self.conv2(F.pad(x, self.pad2))
        out, _ = self.lstm(x.permute(0, 2, 1).contiguous())
        return self.head(out[:, -1]).squeeze(1)


def esr_dc(p, t, a):
    pe, te = p[:, 1:] - a * p[:, :-1], t[:, 1:] - a * t[:, :-1]
    return ((te - pe) ** 2).sum() / ((te ** 2).sum() + 1e-10) + (t - p).mean() ** 2 / ((t ** 2).mean() + 1e-10)


def python_sequence_epoch(hidden, x_all, t_all):
    model = SequenceLstm(hidden)
    opt = torch.optim.Adam(model.parameters(), lr=SEQ["lr"])
    span = SEQ["warmup"] + SEQ["segment"]
    segments = (x_all.numel() - SEQ["warmup"]) // SEQ["segment"]
    offsets = torch.arange(span)
    order = torch.randperm(segments)
    samples, start = 0, time.perf_counter()
    loss_sum = torch.zeros((), dtype=torch.float64)
    for first in range(0, segments, SEQ["batch"]):
        idx = order[first:first + SEQ["batch"]].unsqueeze(1) * SEQ["segment"] + offsets
        x, t = x_all[idx].unsqueeze(2), t_all[idx].unsqueeze(2)
        with torch.no_grad():
            _, state = model(x[:, :SEQ["warmup"]].contiguous())
        for s in range(SEQ["warmup"], span, SEQ["tbptt"]):
            y, state = model(x[:, s:s + SEQ["tbptt"]].contiguous(), state)
            loss = esr_dc(y, t[:, s:s + SEQ["tbptt"]], SEQ["emphasis"])
            opt.zero_grad()
            loss.backward()
            opt.step()
            state = tuple(v.detach() for v in state)
            loss_sum += loss.detach().double()
        samples += idx.shape[0] * span
    loss_sum.item()
    return samples / (time.perf_counter() - start)


def python_windowed_epoch(hidden, x_all, t_all):
    model = WindowedConvLstm(hidden)
    opt = torch.optim.Adam(model.parameters(), lr=WIN["lr"])
    w = WIN["window"]
    positions = x_all.numel() - w + 1
    windows, targets = x_all.unfold(0, w, 1), t_all[w - 1:]
    order = torch.randperm(positions)
    samples, start = 0, time.perf_counter()
    loss_sum = torch.zeros((), dtype=torch.float64)
    for first in range(0, positions, WIN["batch"]):
        idx = order[first:first + WIN["batch"]]
        loss = F.mse_loss(model(windows.index_select(0, idx)), targets.index_select(0, idx))
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss_sum += loss.detach().double()
        samples += idx.numel()
    loss_sum.item()
    return samples / (time.perf_counter() - start)


def python_loop(args):
    """Child mode: one epoch of one model in this process, prints samples/s."""
    model, hidden, seed, data = args
    torch.set_num_threads(THREADS)
    torch.manual_seed(int(seed))
    x_all = torch.tensor(read_float_wav(os.path.join(data, "train_input.wav")), dtype=torch.float32)
    t_all = torch.tensor(read_float_wav(os.path.join(data, "train_target.wav")), dtype=torch.float32)
    loop = python_sequence_epoch if model == "sequence_lstm" else python_windowed_epoch
    print(loop(int(hidden), x_all, t_all))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cadenza", default=os.path.join(os.path.dirname(__file__), "..", "build", "cadenza"))
    ap.add_argument("--hidden", default="32,64")
    ap.add_argument("--repeat", type=int, default=3, help="runs per side and config, interleaved; the median counts")
    ap.add_argument("--python-loop", nargs=4, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.python_loop:
        return python_loop(a.python_loop)
    hidden_sizes = [int(h) for h in a.hidden.split(",")]
    root = tempfile.mkdtemp(prefix="cadenza-throughput-")
    stages = ['[workflow]\nname = "throughput"\n',
              '[stages.synth]\nplugin = "synth_pedal"\nouts = { dry = "dry.wav", wet = "wet.wav" }\n'
              'params = { seed = 7, duration_s = 30.0 }\n',
              '[stages.prep]\nplugin = "preprocess"\ndeps = { input = "dry.wav", target = "wet.wav" }\n'
              'outs = { dataset = "dataset" }\nparams = { train_ratio = 0.7, val_ratio = 0.1, test_ratio = 0.2 }\n']
    for h in hidden_sizes:
        for r in range(a.repeat):
            common = f"hidden_size = {h}, epochs = 1, audio_every = 0, threads = {THREADS}, random_seed = {r + 1}"
            stages.append(f'[stages.sequence_lstm_{h}_{r}]\nplugin = "train_lstm"\ndeps = {{ dataset = "dataset" }}\n'
                          f'outs = {{ model = "sequence_lstm_{h}_{r}" }}\nparams = {{ model = "sequence_lstm", {common}, '
                          f'segment_length = {SEQ["segment"]}, warmup = {SEQ["warmup"]}, tbptt_length = {SEQ["tbptt"]}, '
                          f'batch_size = {SEQ["batch"]}, learning_rate = {SEQ["lr"]} }}\nresources = {{ cpus = {THREADS} }}\n')
            stages.append(f'[stages.windowed_conv_lstm_{h}_{r}]\nplugin = "train_lstm"\ndeps = {{ dataset = "dataset" }}\n'
                          f'outs = {{ model = "windowed_conv_lstm_{h}_{r}" }}\nparams = {{ model = "windowed_conv_lstm", {common} }}\n'
                          f'resources = {{ cpus = {THREADS} }}\n')
    with open(os.path.join(root, "workflow.toml"), "w") as f:
        f.write("\n".join(stages))
    cadenza = os.path.abspath(a.cadenza)
    subprocess.run([cadenza, "run", "--stage", "prep"], cwd=root, check=True, stdout=subprocess.DEVNULL)
    # The Python loop runs in a child with the environment backend_local
    # gives a stage, so that both sides differ only in the loop itself.
    env = dict(os.environ, OMP_NUM_THREADS=str(THREADS), OMP_WAIT_POLICY="PASSIVE")
    print(f"torch {torch.__version__}, {THREADS} threads, OMP_WAIT_POLICY=PASSIVE on both sides, "
          f"median of {a.repeat} interleaved runs")
    print("| model | hidden | Python (samples/s) | Cadenza (samples/s) | Cadenza / Python |")
    print("|---|---|---|---|---|")
    for h in hidden_sizes:
        for name in ("sequence_lstm", "windowed_conv_lstm"):
            cad, py = [], []
            for r in range(a.repeat):  # interleaved: the machine's drift hits both sides alike
                stage = f"{name}_{h}_{r}"
                subprocess.run([cadenza, "run", "--stage", stage], cwd=root, check=True, stdout=subprocess.DEVNULL)
                cad.append(json.load(open(os.path.join(root, stage, "summary.json")))["samples_per_s"])
                out = subprocess.run([sys.executable, __file__, "--python-loop", name, str(h), str(r + 1),
                                      os.path.join(root, "dataset")], env=env, check=True, capture_output=True, text=True)
                py.append(float(out.stdout.strip().splitlines()[-1]))
            c, p = statistics.median(cad), statistics.median(py)
            print(f"| {name} | {h} | {p:,.0f} | {c:,.0f} | {c / p:.2f}x |", flush=True)
    shutil.rmtree(root)


if __name__ == "__main__":
    main()
