#!/usr/bin/env python3
"""Containers: what an image in the cache key costs a no-op, and building the image.

Measured in one run:
  noop    a no-op `cadenza run` of the example (shortened: 10 s of audio, one
          epoch per training) whose stages run in a container with a 1 GB
          image file in their keys, against the same workspace without a
          container; medians of --repeat, interleaved. The image is hashed
          once, by the first run; a no-op only stats it (goal: within 10 %).
          The runtime is the tests' stand-in (tests/e2e/container_stand_in.sh
          as `apptainer`), since no no-op starts a container anyway.
  image   the time scripts/build-image.sh takes to build the full runtime
          image (LibTorch included; directory, SquashFS and Docker archive),
          from Debian's mirror. Needs root; --skip-image skips it.

Usage: bench/container_bench.py [--cadenza build/cadenza] [--repeat 10] [--skip-image]
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHORTEN = [("duration_s = 30.0", "duration_s = 10.0"), ("epochs = 10,", "epochs = 1,"),
           ("epochs = 8", "epochs = 1"), ("segment_length = 4410", "segment_length = 2205"),
           ("batch_size = 16", "batch_size = 4")]


def workspace(tmp, name, container):
    ws = os.path.join(tmp, name)
    os.makedirs(ws)
    text = open(os.path.join(ROOT, "workflow.toml")).read()
    for a, b in SHORTEN:
        text = text.replace(a, b)
    if container:
        text += '\n[container]\nimage = "images/big.sif"\nruntime = "apptainer"\ncadenza = "host"\n'
        os.makedirs(f"{ws}/images")
        with open(f"{ws}/images/big.sif", "wb") as f:
            block = os.urandom(1 << 20)
            for _ in range(1024):
                f.write(block)
    open(f"{ws}/workflow.toml", "w").write(text)
    return ws


def run(exe, ws, env):
    t = time.perf_counter()
    r = subprocess.run([exe, "run"], cwd=ws, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"cadenza run failed in {ws}:\n{r.stdout}{r.stderr}")
    return time.perf_counter() - t, r.stdout


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cadenza", default=f"{ROOT}/build/cadenza")
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--skip-image", action="store_true")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bin_dir = os.path.join(tmp, "bin")
        os.makedirs(bin_dir)
        os.symlink(f"{ROOT}/tests/e2e/container_stand_in.sh", f"{bin_dir}/apptainer")
        env = dict(os.environ, PATH=bin_dir + ":" + os.environ["PATH"], STAND_IN_LOG=f"{tmp}/argv")
        plain, boxed = workspace(tmp, "plain", False), workspace(tmp, "boxed", True)
        first_plain, _ = run(a.cadenza, plain, env)
        first_boxed, out = run(a.cadenza, boxed, env)
        if not os.path.exists(f"{tmp}/argv"):
            sys.exit("the stages did not go through the container runtime")
        times = {"plain": [], "boxed": []}
        for _ in range(a.repeat):
            for name, ws in (("plain", plain), ("boxed", boxed)):
                t, out = run(a.cadenza, ws, env)
                if "0 ran" not in out:
                    sys.exit(f"not a no-op in {name}:\n{out}")
                times[name].append(t)
        mp, mb = statistics.median(times["plain"]), statistics.median(times["boxed"])
        print(f"first run: {first_plain:.1f} s without a container, {first_boxed:.1f} s with the 1 GB image "
              f"(hashed once)")
        print(f"no-op cadenza run of the example: {mp * 1000:.0f} ms without a container | "
              f"{mb * 1000:.0f} ms with a 1 GB image in every key ({mb / mp:.2f}x, goal <= 1.10)")
    if a.skip_image:
        return
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        r = subprocess.run([f"{ROOT}/scripts/build-image.sh", "--out", tmp], capture_output=True, text=True)
        took = time.perf_counter() - t
        if r.returncode != 0:
            sys.exit(f"build-image.sh failed:\n{r.stdout}{r.stderr}")
        size = subprocess.run(["du", "-sh", f"{tmp}/rootfs"], capture_output=True, text=True).stdout.split()[0]
        sqfs = os.path.getsize(f"{tmp}/cadenza.sqfs") / 1e6
        print(f"scripts/build-image.sh (full, LibTorch included): {took:.0f} s; rootfs {size}, "
              f"SquashFS {sqfs:.0f} MB, Docker archive {os.path.getsize(tmp + '/cadenza-docker.tar') / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
