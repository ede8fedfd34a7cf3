#!/usr/bin/env python3
"""backend_slurm on the SLURM test cluster (scripts/slurm-test-cluster.sh).

Measured in one run, medians of --repeat:
  chain      a 3-stage chain, submit -> all done: Cadenza attached and
             detached (until the run record says finished) vs the same
             chain as three raw `sbatch --dependency=afterok` jobs (the
             anchor: what SLURM itself needs).
  chain/smk  the same chain with Debian's snakemake 7.21 --slurm, default
             settings and tuned (--max-status-checks-per-second 1), when
             snakemake is installed (scripts/setup-deps.sh --with-bench).
  sbatch     100 independent trivial jobs: one sbatch each (the users'
             loop) vs job arrays split at the cluster's MaxArraySize; sbatch
             calls counted and submit time measured.
  sweep      `cadenza exp run` of a 100-variant sweep of a one-stage
             workflow: its sbatch calls (arrays of MaxArraySize tasks) and
             the time until all 100 experiments are recorded.
  refresh    SLURM calls made by one `cadenza status` of a live run (by
             design zero: it reads the run record) and its time.
  queued     a run with 1000 jobs queued behind one running job: the
             driver's SLURM calls per refresh (goal <= 1: one squeue for all
             live jobs), its refreshes while nothing changes (backoff), the
             job ids it still asks about once the first job finished (0 for
             finished jobs: they are known from their result files), and
             one `cadenza status` of that run (time, SLURM calls).

Usage: SLURM_CONF=... bench/slurm_bench.py [--cadenza build/cadenza] [--repeat 3]
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time

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


SNAKEFILE = """
rule all:
    input: "out/c"
rule a:
    input: "data/in.txt"
    output: "out/a"
    shell: "cp {input} {output}"
rule b:
    input: "out/a"
    output: "out/b"
    shell: "cp {input} {output}"
rule c:
    input: "out/b"
    output: "out/c"
    shell: "cp {input} {output}"
"""


def snakemake_chain(tuned):
    with tempfile.TemporaryDirectory() as ws:
        os.makedirs(f"{ws}/data")
        open(f"{ws}/data/in.txt", "w").write("hello\n")
        open(f"{ws}/Snakefile", "w").write(SNAKEFILE)
        cmd = ["snakemake", "--slurm", "--jobs", "3", "--quiet"]
        if tuned:
            cmd += ["--max-status-checks-per-second", "1"]
        t = time.monotonic()
        # snakemake's SLURM executor reads $USER (to guess an account through sacct)
        env = dict(os.environ, USER=os.environ.get("USER") or "root")
        r = subprocess.run(cmd, cwd=ws, env=env, capture_output=True, text=True, timeout=600)
        if r.returncode != 0 or not os.path.exists(f"{ws}/out/c"):
            return None, (r.stdout + r.stderr)[-400:]
        return time.monotonic() - t, ""


def cadenza_sweep(cadenza, env, n=100):
    with tempfile.TemporaryDirectory() as ws, tempfile.TemporaryDirectory() as wrappers:
        os.makedirs(f"{ws}/data")
        open(f"{ws}/data/in.txt", "w").write("hello\n")
        open(f"{ws}/workflow.toml", "w").write(
            '[workflow]\nname = "s"\nbackend = "slurm"\n\n[stages.a]\nplugin = "test_worker"\n'
            'deps = { in = "data/in.txt" }\nouts = { out = "out/a" }\n')
        log = f"{wrappers}/calls"
        spy_tools(wrappers, log)
        spy = dict(env, PATH=wrappers + ":" + env["PATH"])
        t = time.monotonic()
        subprocess.run([cadenza, "exp", "run", "--grid", f"a.sleep_ms=range(0,{n})"], cwd=ws, env=spy, check=True,
                       capture_output=True)
        took = time.monotonic() - t
        calls = [l.split()[1] for l in open(log)]
        exps = f"{ws}/.cadenza/exps"
        return took, calls.count("sbatch"), sum(os.path.isdir(f"{exps}/{d}") for d in os.listdir(exps))


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


def spy_tools(wrappers, log):
    for tool in ("squeue", "sbatch", "scontrol", "scancel", "sacct"):
        path = f"{wrappers}/{tool}"
        open(path, "w").write(f'#!/bin/sh\necho "$(date +%s.%N) {tool} $*" >> {log}\nexec /usr/bin/{tool} "$@"\n')
        os.chmod(path, 0o755)


def status_refresh(cadenza, env):
    with tempfile.TemporaryDirectory() as ws, tempfile.TemporaryDirectory() as wrappers:
        chain_workflow(ws)
        text = open(f"{ws}/workflow.toml").read().replace('plugin = "test_worker"', 'plugin = "test_worker"\nparams = { sleep_ms = 8000 }', 1)
        open(f"{ws}/workflow.toml", "w").write(text)
        subprocess.run([cadenza, "run", "--detach"], cwd=ws, env=env, check=True, capture_output=True)
        log = f"{wrappers}/calls"
        spy_tools(wrappers, log)
        spy = dict(env, PATH=wrappers + ":" + env["PATH"])
        times = []
        for _ in range(5):
            t = time.monotonic()
            subprocess.run([cadenza, "status", "--json"], cwd=ws, env=spy, check=True, capture_output=True)
            times.append(time.monotonic() - t)
        calls = len(open(log).read().splitlines()) if os.path.exists(log) else 0
        subprocess.run([cadenza, "cancel", "--all"], cwd=ws, env=env, capture_output=True)
        time.sleep(2)
        return statistics.median(times), calls / 5


def queued_1000(cadenza, env, n=1000, gate_s=15):
    with tempfile.TemporaryDirectory() as ws, tempfile.TemporaryDirectory() as wrappers:
        os.makedirs(f"{ws}/data")
        open(f"{ws}/data/in.txt", "w").write("hello\n")
        stages = [f'[stages.gate]\nplugin = "test_worker"\ndeps = {{ in = "data/in.txt" }}\n'
                  f'outs = {{ out = "out/gate" }}\nparams = {{ sleep_ms = {gate_s * 1000} }}\n']
        stages += [f'[stages.s{k}]\nplugin = "test_worker"\ndeps = {{ in = "out/gate" }}\n'
                   f'outs = {{ out = "out/s{k}" }}\nparams = {{ suffix = "{k}" }}\n' for k in range(n)]
        open(f"{ws}/workflow.toml", "w").write('[workflow]\nname = "q"\nbackend = "slurm"\n\n' + "\n".join(stages))
        log = f"{wrappers}/calls"
        spy_tools(wrappers, log)
        spy = dict(env, PATH=wrappers + ":" + env["PATH"])
        driver = subprocess.Popen([cadenza, "run"], cwd=ws, env=spy, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        events = f"{ws}/.cadenza/runs/latest/events.jsonl"
        t0 = time.monotonic()
        while not os.path.exists(events) or open(events).read().count('"submitted"') < n + 1:
            time.sleep(0.2)
            if time.monotonic() - t0 > 300:
                sys.exit("queued: the jobs were not all submitted within 300 s")
        submit_s = time.monotonic() - t0
        start = time.time()
        time.sleep(8)  # all queued, nothing changes: the driver backs off
        calls = [l.split() for l in open(log) if float(l.split()[0]) >= start]
        squeues = [c for c in calls if c[1] == "squeue"]
        others = [c for c in calls if c[1] not in ("squeue",)]
        if not squeues:
            sys.exit("queued: the driver made no squeue call in 8 s")
        ids_before = len(next(a for a in squeues[-1] if a.startswith("--jobs=")).split(","))
        times = []
        mark = sum(1 for _ in open(log))
        for _ in range(5):
            t = time.monotonic()
            subprocess.run([cadenza, "status", "--json"], cwd=ws, env=spy, check=True, capture_output=True)
            times.append(time.monotonic() - t)
        status_calls = sum(1 for _ in open(log)) - mark
        while '"stage":"gate"' not in "".join(l for l in open(events) if '"finished"' in l):
            time.sleep(0.2)
        time.sleep(3)
        after = [l.split() for l in open(log) if l.split()[1] == "squeue"][-1]
        ids_after = len(next(a for a in after if a.startswith("--jobs=")).split(","))
        subprocess.run([cadenza, "cancel", "--all"], cwd=ws, env=env, capture_output=True)
        driver.wait(timeout=120)
        print(f"{n + 1} jobs ({n} queued behind one running): submitted in {submit_s:.1f} s; over 8 s with "
              f"nothing changing the driver made {len(squeues)} squeue calls ({ids_before} job ids in each: "
              f"1 call per refresh) and {len(others)} other SLURM calls; after the first job finished it asks "
              f"about {ids_after} ids (0 SLURM calls for the finished one); `cadenza status`: "
              f"{statistics.median(times) * 1000:.0f} ms, {status_calls / 5:.0f} SLURM calls")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cadenza", default=f"{ROOT}/build/cadenza")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--skip-queued", action="store_true", help="skip the 1000-queued-jobs run (about a minute)")
    a = p.parse_args()
    if not os.environ.get("SLURM_CONF"):
        sys.exit("SLURM_CONF is not set: eval \"$(scripts/slurm-test-cluster.sh start)\" first")
    env = dict(os.environ, CADENZA_PLUGIN_PATH=f"{ROOT}/build/test-plugins")
    raw = statistics.median(raw_chain() for _ in range(a.repeat))
    att = statistics.median(cadenza_chain(a.cadenza, env, False) for _ in range(a.repeat))
    det = statistics.median(cadenza_chain(a.cadenza, env, True) for _ in range(a.repeat))
    print(f"3-stage chain, submit -> done: raw sbatch afterok {raw:.2f} s | cadenza attached {att:.2f} s "
          f"({att / raw:.2f}x) | detached {det:.2f} s ({det / raw:.2f}x) | goal <= 5 s")
    if shutil.which("snakemake"):
        for tuned in (True, False):
            took, why = snakemake_chain(tuned)
            label = "tuned (--max-status-checks-per-second 1)" if tuned else "default settings"
            print(f"   snakemake --slurm, {label}: " +
                  (f"{took:.2f} s ({took / att:.1f}x cadenza attached)" if took else f"failed: {why}"))
    else:
        print("   snakemake not installed (scripts/setup-deps.sh --with-bench): no comparison")
    loop_s, array_s, calls, max_array = sbatch_counts(100)
    print(f"100 independent jobs: one sbatch each 100 calls {loop_s:.2f} s | arrays (MaxArraySize {max_array}) "
          f"{calls} calls {array_s:.2f} s ({loop_s / array_s:.1f}x faster to submit)")
    took, sbatches, exps = cadenza_sweep(a.cadenza, env)
    print(f"cadenza exp run, a 100-variant sweep: {sbatches} sbatch calls (the users' loop: 100), "
          f"{exps} experiments recorded in {took:.2f} s")
    t, calls = status_refresh(a.cadenza, env)
    print(f"cadenza status of a live SLURM run: {t * 1000:.0f} ms, {calls:.0f} SLURM calls per refresh")
    if not a.skip_queued:
        queued_1000(a.cadenza, env)


if __name__ == "__main__":
    main()
