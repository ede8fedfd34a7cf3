#!/usr/bin/env python3
"""Engine overhead: Cadenza vs ninja on 200 trivial stages.

The DAG is a chain of 50 stages plus a fan-out/fan-in of 150 (one source,
148 independent stages, one join), every stage `touch`ing its output. Both
tools run it from scratch with -j 2, several times; the median is reported.

  engine overhead per stage = (wall * jobs - sum of stage run() times) / stages

i.e. the slot time not spent inside stage code, per stage: spawning
`cadenza exec-stage`, loading the plugin, job spec and result files,
scheduling, storing outputs. "Stage own work" is the time inside run(),
from each stage's result.json (run_s).

Usage: bench/engine_overhead.py [--cadenza build/cadenza] [--repeat 5]
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time

CHAIN, FAN = 50, 150


def stages():
    """(name, deps, out) for the benchmark DAG."""
    out = []
    prev = "seed.txt"
    for i in range(CHAIN):
        out.append((f"chain{i}", [prev], f"o/chain{i}"))
        prev = f"o/chain{i}"
    out.append(("fan_src", ["seed.txt"], "o/fan_src"))
    for i in range(FAN - 2):
        out.append((f"fan{i}", ["o/fan_src"], f"o/fan{i}"))
    out.append(("fan_join", [f"o/fan{i}" for i in range(FAN - 2)], "o/fan_join"))
    return out


def write_workspace(root):
    os.makedirs(root, exist_ok=True)
    open(os.path.join(root, "seed.txt"), "w").write("seed\n")
    with open(os.path.join(root, "workflow.toml"), "w") as f:
        f.write('[workflow]\nname = "overhead"\n\n')
        for name, deps, out in stages():
            dep_table = ", ".join(f'd{k} = "{d}"' for k, d in enumerate(deps))
            f.write(f'[stages.{name}]\nplugin = "stage_shell"\ndeps = {{ {dep_table} }}\n'
                    f'outs = {{ o = "{out}" }}\nparams = {{ cmd = "touch {{out:o}}" }}\n\n')
    with open(os.path.join(root, "build.ninja"), "w") as f:
        f.write("rule touch\n  command = touch $out\n\n")
        for name, deps, out in stages():
            f.write(f"build {out}: touch {' '.join(deps)}\n")


def clean(root):
    for p in ("o", ".cadenza", ".ninja_log", ".ninja_deps"):
        path = os.path.join(root, p)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)


def timed(cmd, cwd):
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def stage_work(root):
    runs = os.path.join(root, ".cadenza", "runs", "latest")
    total = 0.0
    for name in os.listdir(runs):
        if not os.path.isdir(os.path.join(runs, name)):
            continue  # run.json, events.jsonl
        r = json.load(open(os.path.join(runs, name, "result.json")))
        assert r["status"] == "succeeded", (name, r)
        total += r["run_s"]  # inside run() only: loading, caching and promotion are engine time
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cadenza", default=os.path.join(os.path.dirname(__file__), "..", "build", "cadenza"))
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    cadenza = os.path.abspath(args.cadenza)
    n = len(stages())
    root = tempfile.mkdtemp(prefix="cadenza-bench-")
    try:
        write_workspace(root)
        ninja_t, cad_t, overhead = [], [], []
        for _ in range(args.repeat):
            clean(root)
            ninja_t.append(timed(["ninja", "-j", str(args.jobs)], root))
            clean(root)
            wall = timed([cadenza, "run", "-j", str(args.jobs)], root)
            cad_t.append(wall)
            overhead.append((wall * args.jobs - stage_work(root)) / n)
        ninja_m, cad_m, over_m = (statistics.median(x) for x in (ninja_t, cad_t, overhead))
        print(f"engine overhead: {n} trivial stages (chain {CHAIN} + fan-out/fan-in {FAN}), "
              f"-j {args.jobs}, median of {args.repeat}")
        print(f"{'tool':<10}{'wall s':>10}{'per stage ms':>15}")
        print(f"{'ninja':<10}{ninja_m:>10.3f}{ninja_m * 1000 * args.jobs / n:>15.2f}")
        print(f"{'cadenza':<10}{cad_m:>10.3f}{cad_m * 1000 * args.jobs / n:>15.2f}")
        print(f"cadenza engine overhead per stage: {over_m * 1000:.2f} ms (goal <= 20 ms)")
        print(f"cadenza / ninja total wall: {cad_m / ninja_m:.2f}x (goal <= 3x)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
