#!/usr/bin/env python3
"""Script metrics: what following a script's metrics costs the script.

A Python script (Debian's /usr/bin/python3) reports 10,000 values per second
while it keeps one core busy between them, as a training does; the stage
follows them into metrics.jsonl and a TensorBoard sink. Two channels:

  metrics       `import cadenza` lines (two scalars a line); baseline: the
                same script with its lines going to /dev/null
                (CADENZA_METRICS=/dev/null in its command)
  tensorboard   TensorBoard event records (one scalar each, written by the
                tests' stand-in SummaryWriter); baseline: the same script
                with nothing following its logs (no metrics_from_tensorboard)

Ratio: stage run time followed / not followed; the target is <= 1.05.

Usage: bench/script_metrics_bench.py [--cadenza build/cadenza] [--channel metrics|tensorboard]
                                     [--seconds 5] [--rounds 3]
"""
import argparse, json, os, statistics, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = """
import sys, time
sys.path.insert(0, sys.argv[4])
import cadenza
from summary_writer import SummaryWriter
lines, rate, channel = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
writer = SummaryWriter("tb/run") if channel == "tensorboard" else None
start = time.perf_counter()
for i in range(lines):
    deadline = start + (i + 1) / rate
    while time.perf_counter() < deadline:  # the training's own work, one core
        pass
    if writer:
        writer.add_scalar("Batch_Loss/train", 1.0 / (i + 1), i)
    else:
        cadenza.log({"train/loss": 1.0 / (i + 1), "val/esr": 0.5 / (i + 1)}, step=i)
open("out.txt", "w").write(str(lines))
"""

WORKFLOW = """[workflow]
name = "metrics-bench"
sinks = ["tensorboard"]
[stages.train]
plugin = "shell"
outs = {{ o = "out.txt" }}
params = {{ cmd = "rm -rf tb; {prefix}/usr/bin/python3 train.py {lines} {rate} {channel} {helpers}", variant = "{variant}"{follow} }}
"""


def run_stage(exe, ws, lines, rate, channel, variant):
    prefix = "CADENZA_METRICS=/dev/null " if variant == "devnull" else ""
    follow = ', metrics_from_tensorboard = "tb"' if channel == "tensorboard" and variant == "metrics" else ""
    with open(os.path.join(ws, "workflow.toml"), "w") as f:
        f.write(WORKFLOW.format(prefix=prefix, lines=lines, rate=rate, variant=variant, channel=channel, follow=follow,
                                helpers=os.path.join(ROOT, "tests", "tensorboard")))
    r = subprocess.run([exe, "run", "--force"], cwd=ws, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"cadenza run failed:\n{r.stdout}{r.stderr}")
    with open(os.path.join(ws, ".cadenza/runs/latest/train/result.json")) as f:
        result = json.load(f)
    recorded = 0
    if variant == "metrics":
        with open(os.path.join(ws, ".cadenza/runs/latest/train/metrics.jsonl")) as f:
            recorded = sum(1 for _ in f)
        expected = lines if channel == "tensorboard" else 2 * lines
        if recorded != expected:
            sys.exit(f"expected {expected} recorded metrics, found {recorded}")
    return result["run_s"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cadenza", default=os.path.join(ROOT, "build", "cadenza"))
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rate", type=float, default=10000.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--channel", choices=("metrics", "tensorboard"), default="metrics")
    args = ap.parse_args()
    lines = int(args.seconds * args.rate)
    times = {"devnull": [], "metrics": []}
    with tempfile.TemporaryDirectory() as ws:
        with open(os.path.join(ws, "train.py"), "w") as f:
            f.write(SCRIPT)
        for _ in range(args.rounds):  # interleaved: drift hits both alike
            for variant in ("devnull", "metrics"):
                times[variant].append(run_stage(args.cadenza, ws, lines, args.rate, args.channel, variant))
    base, mine = statistics.median(times["devnull"]), statistics.median(times["metrics"])
    what = "event records, 1 scalar each" if args.channel == "tensorboard" else "metrics lines, 2 scalars each"
    print(f"{lines} {what}, at {args.rate:.0f}/s, median of {args.rounds}")
    print(f"  not followed            {base:7.2f} s")
    print(f"  followed by the stage   {mine:7.2f} s   ratio {mine / base:.3f} (target <= 1.05)")


if __name__ == "__main__":
    main()
