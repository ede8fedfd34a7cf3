#!/usr/bin/env python3
"""kill -9 campaign: kill `cadenza run` and its `exec-stage`s at random
moments of a run with large outputs, rerun at once, and check that nothing
stored is lost or corrupt and that every output is what the lock says.

Each round changes the input (so every stage has work), starts `cadenza run`,
waits a random time, then SIGKILLs one of: the driver, one running
exec-stage, or the driver and every exec-stage of the workspace. The next
`cadenza run` starts immediately, while orphaned stages may still be
running, and must exit 0. Once no stage process of the workspace is left:

  - `cadenza cache verify` finds 0 corrupt objects and 0 damaged entries;
  - `cadenza status` says every stage is up to date;
  - every out's content hash (`cadenza cache hash`, from the bytes) equals
    its hash in workflow.lock.

Usage: bench/kill_campaign.py [--kills N] [--size-mb MB] [--seed S] [--cache-link MODE]
  CADENZA (default build/cadenza) and CADENZA_PLUGIN_PATH as for the tests.
Prints one line per round and a summary; exits 1 on any failure.
"""
import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def workflow(size_mb, cache_link):
    # gen: one large file; split: a directory of parts; digest: a small file
    # from the parts. Sleeps put the kills in the middle of real work.
    return f"""[workflow]
name = "kill-campaign"
cache_link = "{cache_link}"

[stages.gen]
plugin = "stage_shell"
deps = {{ seed = "data/seed.txt" }}
outs = {{ big = "out/big.bin" }}
params = {{ cmd = "sleep 0.2; (cat $CADENZA_DEP_SEED; head -c {size_mb}M /dev/urandom) > $CADENZA_OUT_BIG" }}

[stages.split]
plugin = "stage_shell"
deps = {{ big = "out/big.bin" }}
outs = {{ parts = "out/parts" }}
params = {{ cmd = "mkdir -p $CADENZA_OUT_PARTS && split -b 4M $CADENZA_DEP_BIG $CADENZA_OUT_PARTS/p-; sleep 0.2" }}

[stages.digest]
plugin = "stage_shell"
deps = {{ parts = "out/parts" }}
outs = {{ sum = "out/sum.txt" }}
params = {{ cmd = "cat $CADENZA_DEP_PARTS/* | cksum > $CADENZA_OUT_SUM" }}
"""


def cadenza():
    return os.environ.get("CADENZA", os.path.join(ROOT, "build", "cadenza"))


def run(ws, *args, check=False):
    r = subprocess.run([cadenza(), *args], cwd=ws, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"cadenza {' '.join(args)} exited {r.returncode}:\n{r.stdout}{r.stderr}")
    return r


def exec_stages_of(ws):
    """Pids of `cadenza exec-stage` processes working in `ws` (read from /proc)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"exec-stage" in argv and any(ws.encode() in a for a in argv):
            pids.append(int(entry))
    return pids


def wait_for_no_stages(ws, limit_s=120):
    deadline = time.time() + limit_s
    while exec_stages_of(ws):
        if time.time() > deadline:
            raise RuntimeError("stage processes still alive after the rerun")
        time.sleep(0.05)


def kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
        return True
    except ProcessLookupError:
        return False


def check_round(ws):
    """Returns (corrupt objects, mismatching outputs, problems)."""
    problems = []
    verify = run(ws, "cache", "verify")
    corrupt = verify.stdout.count("corrupt: ") + verify.stdout.count("damaged: ")
    if verify.returncode != 0:
        problems.append("cache verify: " + verify.stdout.strip().splitlines()[-1])
    status = run(ws, "status").stdout
    for stage in ("gen", "split", "digest"):
        if not re.search(rf"^{stage}\s+up to date", status, re.M):
            problems.append(f"status: {stage} not up to date: {status.strip()}")
    with open(os.path.join(ws, "workflow.lock")) as f:
        lock = json.load(f)
    mismatches = 0
    for stage, entry in lock["stages"].items():
        for name, out in entry["outs"].items():
            actual = run(ws, "cache", "hash", out["path"]).stdout.split()
            if not actual or actual[0] != out["hash"]:
                mismatches += 1
                problems.append(f"{stage}.{name} ({out['path']}): lock {out['hash']}, file {actual[:1]}")
    return corrupt, mismatches, problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kills", type=int, default=50)
    ap.add_argument("--size-mb", type=int, default=64)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cache-link", default="auto", choices=["auto", "copy", "hardlink"])
    args = ap.parse_args()
    rng = random.Random(args.seed)
    totals = {"kills": 0, "missed": 0, "corrupt": 0, "mismatches": 0, "failed_reruns": 0}
    with tempfile.TemporaryDirectory(prefix="cadenza-kill-") as ws:
        os.makedirs(os.path.join(ws, "data"))
        with open(os.path.join(ws, "workflow.toml"), "w") as f:
            f.write(workflow(args.size_mb, args.cache_link))
        failures = []
        for k in range(args.kills):
            with open(os.path.join(ws, "data", "seed.txt"), "w") as f:
                f.write(f"round {k}\n")
            driver = subprocess.Popen([cadenza(), "run", "-j", "2"], cwd=ws,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.05, 1.5))
            target = rng.choice(["driver", "stage", "all"])
            stages = exec_stages_of(ws)
            deadline = time.time() + 2
            while target == "stage" and not stages and driver.poll() is None and time.time() < deadline:
                time.sleep(0.01)  # between two stages: catch the next one
                stages = exec_stages_of(ws)
            hit = False
            if target in ("driver", "all"):
                hit |= kill(driver.pid)
            if target == "stage" and stages:
                hit |= kill(rng.choice(stages))
            if target == "all":
                for pid in stages:
                    hit |= kill(pid)
            driver.wait()
            totals["kills" if hit else "missed"] += 1
            rerun = run(ws, "run")
            if rerun.returncode != 0:
                totals["failed_reruns"] += 1
                failures.append(f"round {k}: rerun exited {rerun.returncode}: {rerun.stdout}{rerun.stderr}")
            wait_for_no_stages(ws)
            corrupt, mismatches, problems = check_round(ws)
            totals["corrupt"] += corrupt
            totals["mismatches"] += mismatches
            failures += [f"round {k}: {p}" for p in problems]
            print(f"round {k + 1}/{args.kills}: killed {target}{'' if hit else ' (already gone)'}, "
                  f"rerun exit {rerun.returncode}, {corrupt} corrupt, {mismatches} mismatches", flush=True)
        staging = [n for n in os.listdir(os.path.join(ws, "out")) if "cadenza-staging" in n]
    print(f"kill campaign: {totals['kills']} kills ({totals['missed']} rounds where the target had "
          f"already exited), {totals['corrupt']} corrupt objects, {totals['mismatches']} outputs "
          f"not matching the lock, {totals['failed_reruns']} failed reruns, {len(staging)} staging "
          f"leftovers; {args.size_mb} MB per round, cache_link = {args.cache_link}")
    for f in failures:
        print("FAIL " + f)
    return 1 if failures or staging else 0


if __name__ == "__main__":
    sys.exit(main())
