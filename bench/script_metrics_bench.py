#!/usr/bin/env python3
"""Script metrics: what following a script's metrics costs the script.

A Python script (Debian's /usr/bin/python3) reports 10,000 metrics lines per
second through `import cadenza` (two scalars a line) while it keeps one
core busy between lines, as a training does; the stage follows the lines
into metrics.jsonl and a TensorBoard sink. Baseline, in the same run: the
same script and stage with its lines going to /dev/null
(CADENZA_METRICS=/dev/null in its command). Ratio: stage run time with
metrics / without; the target is <= 1.05.

Usage: bench/script_metrics_bench.py [--cadenza build/cadenza] [--seconds 5] [--rounds 3]
"""
import argparse, json, os, statistics, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = """
import sys, time
import cadenza
lines, rate = int(sys.argv[1]), float(sys.argv[2])
start = time.perf_counter()
for i in range(lines):
    deadline = start + (i + 1) / rate
    while time.perf_counter() < deadline:  # the training's own work, one core
        pass
    cadenza.log({"train/loss": 1.0 / (i + 1), "val/esr": 0.5 / (i + 1)}, step=i)
open("out.txt", "w").write(str(lines))
"""

WORKFLOW = """[workflow]
name = "metrics-bench"
sinks = ["tensorboard"]
[stages.train]
plugin = "shell"
outs = {{ o = "out.txt" }}
params = {{ cmd = "{prefix}/usr/bin/python3 train.py {lines} {rate}", variant = "{variant}" }}
"""


def run_stage(exe, ws, lines, rate, variant):
    prefix = "CADENZA_METRICS=/dev/null " if variant == "devnull" else ""
    with open(os.path.join(ws, "workflow.toml"), "w") as f:
        f.write(WORKFLOW.format(prefix=prefix, lines=lines, rate=rate, variant=variant))
    r = subprocess.run([exe, "run", "--force"], cwd=ws, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"cadenza run failed:\n{r.stdout}{r.stderr}")
    with open(os.path.join(ws, ".cadenza/runs/latest/train/result.json")) as f:
        result = json.load(f)
    recorded = 0
    if variant == "metrics":
        with open(os.path.join(ws, ".cadenza/runs/latest/train/metrics.jsonl")) as f:
            recorded = sum(1 for _ in f)
        if recorded != 2 * lines:
            sys.exit(f"expected {2 * lines} recorded metrics, found {recorded}")
    return result["run_s"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cadenza", default=os.path.join(ROOT, "build", "cadenza"))
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rate", type=float, default=10000.0)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    lines = int(args.seconds * args.rate)
    times = {"devnull": [], "metrics": []}
    with tempfile.TemporaryDirectory() as ws:
        with open(os.path.join(ws, "train.py"), "w") as f:
            f.write(SCRIPT)
        for _ in range(args.rounds):  # interleaved: drift hits both alike
            for variant in ("devnull", "metrics"):
                times[variant].append(run_stage(args.cadenza, ws, lines, args.rate, variant))
    base, mine = statistics.median(times["devnull"]), statistics.median(times["metrics"])
    print(f"{lines} lines at {args.rate:.0f}/s, 2 scalars each, median of {args.rounds}")
    print(f"  lines to /dev/null      {base:7.2f} s")
    print(f"  followed by the stage   {mine:7.2f} s   ratio {mine / base:.3f} (target <= 1.05)")


if __name__ == "__main__":
    main()
