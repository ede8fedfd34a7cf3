#!/usr/bin/env python3
"""cadenza push over ssh vs `rsync -a` of the same files over the same sshd.

Two caches: 10,000 small objects (one stage's directory output) and one
1 GB object. For each: wall time of `cadenza push` to an empty remote cache
and the ssh connections it opened (logins in the test sshd's log), against
`rsync -a` of the cache's objects/ to an empty directory (the anchor), and
a second push (nothing to send). Goal: <= 1.5x rsync's time, one connection.

Usage: bench/ssh_bench.py [--small N] [--big-mb MB]
Starts scripts/sshd-test-server.sh unless $CADENZA_TEST_SSH_CONFIG is set.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CADENZA = os.environ.get("CADENZA", os.path.join(ROOT, "build", "cadenza"))


def logins(config):
    with open(os.path.join(os.path.dirname(config), "sshd.log")) as f:
        return sum("Accepted publickey" in line for line in f)


def timed(cmd, cwd, env):
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{r.stdout}{r.stderr}")
    return time.perf_counter() - t, r.stdout.strip()


def workspace(root, name, cmd):
    ws = os.path.join(root, name)
    os.makedirs(ws)
    with open(os.path.join(ws, "workflow.toml"), "w") as f:
        f.write(f'[workflow]\nname = "{name}"\n\n[stages.make]\nplugin = "stage_shell"\n'
                f'outs = {{ o = "out/o" }}\nparams = {{ cmd = "{cmd}" }}\n')
    return ws


def measure(label, ws, root, config, env):
    subprocess.run([CADENZA, "run"], cwd=ws, env=env, check=True, capture_output=True)
    objects = os.path.join(ws, ".cadenza", "cache", "objects")
    rows = []
    for attempt in range(3):  # interleaved, medians of three: this VM drifts
        dest = os.path.join(root, f"{label}-rsync-{attempt}")
        os.makedirs(dest)
        before = logins(config)
        t_rsync, _ = timed(["rsync", "-a", "-e", f"ssh -F {config}", objects + "/", f"cadenza-test:{dest}/"], ws, env)
        rsync_conns = logins(config) - before
        remote = os.path.join(root, f"{label}-remote-{attempt}")
        os.makedirs(remote)
        before = logins(config)
        t_push, out = timed([CADENZA, "push", "--remote", f"cadenza-test:{remote}"], ws, env)
        push_conns = logins(config) - before
        t_again, again = timed([CADENZA, "push", "--remote", f"cadenza-test:{remote}"], ws, env)
        rows.append((t_rsync, rsync_conns, t_push, push_conns, out, t_again, again))
    med = lambda k: statistics.median(r[k] for r in rows)
    t_rsync, t_push, t_again = med(0), med(2), med(5)
    _, rsync_conns, _, push_conns, out, _, again = rows[-1]
    print(f"\n{label}: {out.split(': ', 1)[1]}")
    print(f"   {'tool':<28}{'wall s':>9}{'vs rsync':>10}{'ssh logins':>12}")
    print(f"   {'rsync -a objects/':<28}{t_rsync:>9.2f}{1:>10.2f}{rsync_conns:>12}")
    print(f"   {'cadenza push':<28}{t_push:>9.2f}{t_push / t_rsync:>10.2f}{push_conns:>12}   goal <= 1.5x, 1 login")
    print(f"   {'cadenza push (again)':<28}{t_again:>9.2f}{t_again / t_rsync:>10.2f}{'':>12}   {again.split(': ', 1)[1]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--small", type=int, default=10000)
    ap.add_argument("--big-mb", type=int, default=1024)
    args = ap.parse_args()
    env = dict(os.environ)
    started = False
    if not env.get("CADENZA_TEST_SSH_CONFIG"):
        out = subprocess.run([os.path.join(ROOT, "scripts", "sshd-test-server.sh"), "start"],
                             check=True, capture_output=True, text=True).stdout
        env["CADENZA_TEST_SSH_CONFIG"] = out.strip().split("=", 1)[1]
        started = True
    config = env["CADENZA_TEST_SSH_CONFIG"]
    env["CADENZA_SSH_COMMAND"] = f"ssh -F {config}"
    root = tempfile.mkdtemp(prefix="cadenza-ssh-bench-")
    try:
        small = workspace(root, "small", f"mkdir -p $CADENZA_OUT_O && cd $CADENZA_OUT_O && "
                                         f"for i in $(seq {args.small}); do echo object $i > f$i; done")
        measure(f"{args.small} small objects", small, root, config, env)
        big = workspace(root, "big", f"head -c {args.big_mb}M /dev/urandom > $CADENZA_OUT_O")
        measure(f"one {args.big_mb} MB object", big, root, config, env)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        if started:
            subprocess.run([os.path.join(ROOT, "scripts", "sshd-test-server.sh"), "stop"])


if __name__ == "__main__":
    main()
