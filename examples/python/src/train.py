"""Trains the windowed conv+LSTM pedal model (Conv1d 1->16 k12 s12, Conv1d
16->16 k12 s12, LSTM 16->hidden, Linear on the last step; MSE; Adam) on
data/prepared and writes models/model.pt.

Cadenza sees it through `import cadenza`: per-epoch metrics, progress and a
predicted clip; a stop request ends it after the current batch; every epoch
is checkpointed in cadenza.scratch_dir(), so a retry after a time limit,
preemption or node failure resumes where it stopped."""
import os
import wave

import torch
import yaml

import cadenza

cfg = yaml.safe_load(open("params.yaml"))
p, hidden = cfg["train"], cfg["model"]["hidden"]
torch.manual_seed(0)
torch.set_num_threads(int(os.environ.get("CADENZA_CPUS", "1")))


class WindowedLSTM(torch.nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.conv1 = torch.nn.Conv1d(1, 16, 12, stride=12)
        self.conv2 = torch.nn.Conv1d(16, 16, 12, stride=12)
        self.lstm = torch.nn.LSTM(16, hidden, batch_first=True)
        self.out = torch.nn.Linear(hidden, 1)

    def forward(self, x):  # x: (batch, window) -> (batch,)
        h = torch.tanh(self.conv2(torch.tanh(self.conv1(x.unsqueeze(1)))))
        y, _ = self.lstm(h.transpose(1, 2))
        return self.out(y[:, -1]).squeeze(1)


def windows(split, window):
    d = torch.load("data/prepared/%s.pt" % split)
    x = d["dry"].unfold(0, window, 1)[::4]  # every 4th position: enough for a demo
    y = d["wet"][window - 1::4][: len(x)]
    return x, y, d["rate"]


def write_wav(path, samples, rate):  # 16-bit PCM with the standard library
    pcm = (samples.clamp(-1, 1) * 32767).to(torch.int16)
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.numpy().tobytes())


x_train, y_train, rate = windows("train", p["window"])
x_val, y_val, _ = windows("val", p["window"])
model = WindowedLSTM(hidden)
opt = torch.optim.Adam(model.parameters(), lr=p["lr"])
checkpoint = os.path.join(cadenza.scratch_dir(), "checkpoint.pt")
start = 0
if os.path.exists(checkpoint):
    state = torch.load(checkpoint)
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["opt"])
    start = state["epoch"] + 1
    print("resumed from epoch %d (attempt %d)" % (state["epoch"], cadenza.attempt()), flush=True)

for epoch in range(start, p["epochs"]):
    model.train()
    order = torch.randperm(len(x_train), generator=torch.Generator().manual_seed(epoch))
    total, batches = 0.0, 0
    for i in range(0, len(order), p["batch_size"]):
        idx = order[i:i + p["batch_size"]]
        loss = torch.nn.functional.mse_loss(model(x_train[idx]), y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        total, batches = total + loss.item(), batches + 1
        if cadenza.should_stop():
            print("stop requested: leaving at epoch %d" % epoch, flush=True)
            raise SystemExit(0)
    model.eval()
    with torch.no_grad():
        pred = model(x_val)
        esr = (((y_val - pred) ** 2).sum() / (y_val ** 2).sum()).item()
    os.makedirs("logs", exist_ok=True)
    write_wav("logs/prediction.wav", pred[:rate // 4], rate // 4)
    cadenza.log({"train/loss": total / batches, "val/esr": esr}, step=epoch)
    cadenza.log_audio("val/prediction", "logs/prediction.wav", step=epoch)
    cadenza.progress(epoch + 1, p["epochs"], "epochs")
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "epoch": epoch}, checkpoint + ".tmp")
    os.replace(checkpoint + ".tmp", checkpoint)  # a kill mid-save keeps the last good one
    print("epoch %d: train/loss %.5f val/esr %.4f" % (epoch, total / batches, esr), flush=True)

os.makedirs("models", exist_ok=True)
torch.save(model.state_dict(), "models/model.pt")
