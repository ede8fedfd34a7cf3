#!/usr/bin/env python3
"""Experiments: a sweep on one shared cache, and `exp show` with many experiments.

Measured in one run:
  sweep   a 2x2 sweep of the example (train.hidden_size x train.learning_rate,
          shortened: 10 s of audio, 1 epoch, stages synth -> preprocess ->
          train -> export): stage executions and wall time for Cadenza with
          -j 1 and -j 2 against the users' current copy-per-variant approach
          (each variant a fresh copy of the workspace run from scratch).
  show    `cadenza exp show` (table, --json, --where) over N recorded
          experiments against a baseline that only reads and parses the same
          index in Python. The N records are written in the index's own
          format, cloned from experiments this bench really ran (running
          10,000 experiments would take hours).

Usage: bench/exp_bench.py [--cadenza build/cadenza] [--count 10000] [--skip-sweep]
"""
import argparse, json, os, re, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHORT = ["--set", "synth.duration_s=10.0", "--set", "train.epochs=1", "--stage", "export"]
GRID = ["--grid", "train.hidden_size=8,16", "--grid", "train.learning_rate=0.005,0.01"]


def cadenza(exe, ws, args, env):
    t0 = time.perf_counter()
    r = subprocess.run([exe] + args, cwd=ws, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"cadenza {' '.join(args)} failed in {ws}:\n{r.stdout}{r.stderr}")
    return time.perf_counter() - t0, r.stdout


def executions(out):
    # "[stage] done in" is printed once per stage that really ran.
    return len(re.findall(r"\] done in ", out))


def example_workspace(tmp, name):
    ws = os.path.join(tmp, name)
    os.makedirs(ws)
    shutil.copy(os.path.join(ROOT, "workflow.toml"), ws)
    return ws


def sweep(exe, env, tmp):
    rows = []
    for j in (1, 2):
        ws = example_workspace(tmp, f"sweep-j{j}")
        t, out = cadenza(exe, ws, ["exp", "run", "-j", str(j)] + SHORT + GRID, env)
        rows.append((f"cadenza exp run -j {j}", executions(out), t))
    t_all, n_all = 0.0, 0
    for hs in (8, 16):
        for lr in (0.005, 0.01):
            ws = example_workspace(tmp, f"copy-{hs}-{lr}")  # its own cache: a fresh clone
            t, out = cadenza(exe, ws, ["exp", "run", "--set", f"train.hidden_size={hs}",
                                       "--set", f"train.learning_rate={lr}"] + SHORT, env)
            t_all += t
            n_all += executions(out)
    rows.append(("copy per variant (4 fresh workspaces)", n_all, t_all))
    base = rows[-1][2]
    print("sweep: 2x2 of the example (10 s audio, 1 epoch), stages executed and wall time")
    for label, n, t in rows:
        print(f"  {label:40s} {n:3d} executions  {t:7.1f} s  ({t / base:.2f}x copy-per-variant)")


def show(exe, env, tmp, count):
    ws = os.path.join(tmp, "show")
    os.makedirs(os.path.join(ws, "data"))
    open(os.path.join(ws, "data/in.txt"), "w").write("hello\n")
    open(os.path.join(ws, "workflow.toml"), "w").write(
        '[workflow]\nname = "show"\n[experiments]\nmetrics = ["train:test/length"]\n'
        '[stages.prep]\nplugin = "test_worker"\ndeps = { in = "data/in.txt" }\nouts = { out = "out/prep" }\n'
        '[stages.train]\nplugin = "test_worker"\ndeps = { in = "out/prep" }\nouts = { out = "out/model" }\n'
        'params = { epochs = 3 }\n')
    cadenza(exe, ws, ["exp", "run", "--grid", "train.suffix=a,bb", "--grid", "train.gain=1,2"], env)
    index = os.path.join(ws, ".cadenza/exps/index.jsonl")
    real = [json.loads(l) for l in open(index) if l.strip()][-4:]
    with open(index, "w") as f:
        for k in range(count):
            row = json.loads(json.dumps(real[k % 4]))
            row["name"] = f"suffix=s{k},gain={k % 7}"
            row["overrides"] = {"train.suffix": f"s{k}", "train.gain": k % 7}
            for m in row["metrics"].values():  # [last, min, max]
                m[0] = m[1] = (k * 7919 % 1000) / 1000.0
            f.write(json.dumps(row) + "\n")

    def median(args, n=5):
        return statistics.median(cadenza(exe, ws, args, env)[0] for _ in range(n))

    def baseline():
        t0 = time.perf_counter()
        rows = [json.loads(l) for l in open(index)]
        assert len(rows) == count
        return time.perf_counter() - t0

    base = statistics.median(baseline() for _ in range(5))
    print(f"show: {count} experiments, medians of 5 (baseline: Python reads and parses the index, {base * 1000:.0f} ms)")
    for label, args in [("exp show (table)", ["exp", "show"]), ("exp show --json", ["exp", "show", "--json"]),
                        ("exp show --where ... --sort-by", ["exp", "show", "--where", "train:test/length < 0.1",
                                                            "--sort-by", "train:test/length"])]:
        t = median(args)
        print(f"  {label:34s} {t * 1000:6.0f} ms  ({t / base:.2f}x baseline; goal <= 200 ms: "
              f"{'met' if t <= 0.2 else 'NOT met'})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cadenza", default=os.path.join(ROOT, "build/cadenza"))
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--skip-sweep", action="store_true")
    a = ap.parse_args()
    env = dict(os.environ)
    env["CADENZA_PLUGIN_PATH"] = os.path.join(ROOT, "build/test-plugins")
    with tempfile.TemporaryDirectory() as tmp:
        show(os.path.abspath(a.cadenza), env, tmp, a.count)
        if not a.skip_sweep:
            env.pop("CADENZA_PLUGIN_PATH")
            sweep(os.path.abspath(a.cadenza), env, tmp)


if __name__ == "__main__":
    main()
