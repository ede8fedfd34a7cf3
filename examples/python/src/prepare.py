"""Makes the demo dataset: plucked notes (dry) and the same through a
soft-clipping pedal with a tone filter (wet), split into train and val.
Deterministic for a seed; no download."""
import math
import os

import torch
import yaml

p = yaml.safe_load(open("params.yaml"))["data"]
rate = 22050
g = torch.Generator().manual_seed(p["seed"])
n = int(p["seconds"] * rate)
dry = torch.zeros(n)
t = 0
while t < n:  # a note every 0.1-0.4 s: a decaying harmonic tone
    length = int(rate * (0.1 + 0.3 * torch.rand(1, generator=g).item()))
    f0 = 82.0 * 2 ** (torch.randint(0, 24, (1,), generator=g).item() / 12)
    k = torch.arange(min(length * 3, n - t)) / rate
    note = sum(torch.sin(2 * math.pi * f0 * h * k) / h for h in (1, 2, 3)) * torch.exp(-k * 6)
    dry[t:t + len(k)] += 0.4 * note
    t += length
dry += 0.002 * torch.randn(n, generator=g)
# The pedal: drive into tanh, then a one-pole low-pass (its tone knob).
driven = torch.tanh(6.0 * dry)
wet = torch.empty(n)
y, a = 0.0, math.exp(-2 * math.pi * 3500 / rate)
for i, x in enumerate(driven.tolist()):
    y = (1 - a) * x + a * y
    wet[i] = y
split = int(0.8 * n)
os.makedirs("data/prepared", exist_ok=True)
torch.save({"rate": rate, "dry": dry[:split], "wet": wet[:split]}, "data/prepared/train.pt")
torch.save({"rate": rate, "dry": dry[split:], "wet": wet[split:]}, "data/prepared/val.pt")
print("prepared %.1f s of audio at %d Hz" % (n / rate, rate))
