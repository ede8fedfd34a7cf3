#!/usr/bin/env python3
"""backend_slurm on the SLURM test cluster (scripts/slurm-test-cluster.sh).

Measured in one run, medians of --repeat:
  chain      a 3-stage chain, submit -> all done: Cadenza attached and
             detached (until the run record says finished) vs the same
             chain as three raw `sbatch --dependency=afterok` jobs (the
             anchor: what SLURM itself needs).
  sbatch     100 independent trivial jobs: one sbatch each (the users'
             loop) vs job arrays split at the cluster's MaxArraySize; sbatch
             calls counted and submit time measured.
  refresh    SLURM calls made by one `cadenza status` of a live run (by
             design zero: it reads the run record) and its time.

Usage: SLURM_CONF=... bench/slurm_bench.py [--cadenza build/cadenza] [--repeat 3]
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def chain_workflow(ws):
    os.makedirs(f"{ws}/data", exist_ok=True)
    open(f"{ws}/data/in.txt", "w").write("hello\n")
    stages, prev = [], "data/in.txt"
    for name in "abc":
        stages.append(f'[stages.{name}]\nplugin = "test_worker"\ndeps = {{ in = "{prev}" }}\n'
                      f'outs = {{ out = "out/{name}" }}\n')
        prev = f"out/{name}"
    open(f"{ws}/workflow.toml", "w").write('[workflow]\nname = "b"\nbackend = "slurm"\n\n' + "\n".join(stages))


def wait_jobs(ids):
    while True:
        out = subprocess.run(["squeue", "-h", "--states=all", "-j", ",".join(ids), "-o", "%T"],
                             capture_output=True, text=True).stdout.split()
        if out and all(s in ("COMPLETED", "FAILED", "CANCELLED") for s in out):
            return
        time.sleep(0.02)


def raw_chain():
    t = time.monotonic()
    ids, dep = [], []
    for _ in range(3):
        cmd = ["sbatch", "--parsable", "-o", "/dev/null"] + (["-d", "afterok:" + ids[-1]] if ids else []) + ["--wrap", "true"]
        ids.append(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip())
    wait_jobs(ids)
    return time.monotonic() - t


def cadenza_chain(cadenza, env, detached):
    with tempfile.TemporaryDirectory() as ws:
        chain_workflow(ws)
        t = time.monotonic()
        subprocess.run([cadenza, "run"] + (["--detach"] if detached else []), cwd=ws, env=env,
                       check=True, capture_output=True)
        while detached and "run_finished" not in open(f"{ws}/.cadenza/runs/latest/events.jsonl").read():
            time.sleep(0.02)
        return time.monotonic() - t


def sbatch_counts(n):
    t = time.monotonic()
    ids = [subprocess.run(["sbatch", "--parsable", "-o", "/dev/null", "--wrap", "true"], capture_output=True,
                          text=True, check=True).stdout.strip() for _ in range(n)]
    loop_s = time.monotonic() - t
    wait_jobs(ids)
    conf = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True).stdout
    max_array = int(next(l.split("=")[1] for l in conf.splitlines() if l.startswith("MaxArraySize")))
    t, calls, ids = time.monotonic(), 0, []
    for start in range(0, n, max_array):
        size = min(max_array, n - start)
        ids.append(subprocess.run(["sbatch", "--parsable", "-o", "/dev/null", f"--array=0-{size - 1}", "--wrap", "true"],
                                  capture_output=True, text=True, check=True).stdout.strip())
        calls += 1
    array_s = time.monotonic() - t
    wait_jobs(ids)
    return loop_s, array_s, calls, max_array


def status_refresh(cadenza, env):
    with tempfile.TemporaryDirectory() as ws, tempfile.TemporaryDirectory() as wrappers:
        chain_workflow(ws)
        text = open(f"{ws}/workflow.toml").read().replace('plugin = "test_worker"', 'plugin = "test_worker"\nparams = { sleep_ms = 8000 }', 1)
        open(f"{ws}/workflow.toml", "w").write(text)
        subprocess.run([cadenza, "run", "--detach"], cwd=ws, env=env, check=True, capture_output=True)
        log = f"{wrappers}/calls"
        for tool in ("squeue", "sbatch", "scontrol", "scancel", "sacct"):
            path = f"{wrappers}/{tool}"
            open(path, "w").write(f'#!/bin/sh\necho {tool} >> {log}\nexec /usr/bin/{tool} "$@"\n')
            os.chmod(path, 0o755)
        spy = dict(env, PATH=wrappers + ":" + env["PATH"])
        times = []
        for _ in range(5):
            t = time.monotonic()
            subprocess.run([cadenza, "status", "--json"], cwd=ws, env=spy, check=True, capture_output=True)
            times.append(time.monotonic() - t)
        calls = len(open(log).read().split()) if os.path.exists(log) else 0
        subprocess.run([cadenza, "cancel", "--all"], cwd=ws, env=env, capture_output=True)
        time.sleep(2)
        return statistics.median(times), calls / 5


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cadenza", default=f"{ROOT}/build/cadenza")
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    if not os.environ.get("SLURM_CONF"):
        sys.exit("SLURM_CONF is not set: eval \"$(scripts/slurm-test-cluster.sh start)\" first")
    env = dict(os.environ, CADENZA_PLUGIN_PATH=f"{ROOT}/build/test-plugins")
    raw = statistics.median(raw_chain() for _ in range(a.repeat))
    att = statistics.median(cadenza_chain(a.cadenza, env, False) for _ in range(a.repeat))
    det = statistics.median(cadenza_chain(a.cadenza, env, True) for _ in range(a.repeat))
    print(f"3-stage chain, submit -> done: raw sbatch afterok {raw:.2f} s | cadenza attached {att:.2f} s "
          f"({att / raw:.2f}x) | detached {det:.2f} s ({det / raw:.2f}x) | goal <= 5 s")
    loop_s, array_s, calls, max_array = sbatch_counts(100)
    print(f"100 independent jobs: one sbatch each 100 calls {loop_s:.2f} s | arrays (MaxArraySize {max_array}) "
          f"{calls} calls {array_s:.2f} s ({loop_s / array_s:.1f}x faster to submit)")
    t, calls = status_refresh(a.cadenza, env)
    print(f"cadenza status of a live SLURM run: {t * 1000:.0f} ms, {calls:.0f} SLURM calls per refresh")


if __name__ == "__main__":
    main()
