"""Cadenza from inside a script stage: params in, metrics out, stop and resume.

Standard library only. Under Cadenza (a `stage_shell` stage) it talks to the
engine through the files the stage names in the environment; run on its own,
params() returns your defaults and log() does nothing, so the same script
also runs by hand. The metrics-line format it writes is documented in
Cadenza's sdk/README.md ("Metrics from a script").

    import cadenza
    p = cadenza.params({"lr": 0.01, "epochs": 10})
    for epoch in range(start, p["epochs"]):
        ...
        cadenza.log({"train/loss": loss, "val/esr": esr}, step=epoch)
        cadenza.progress(epoch + 1, p["epochs"], "epochs")
        if cadenza.should_stop():
            break
"""

import json
import os
import signal
import tempfile

__all__ = ["params", "log", "log_audio", "progress", "should_stop", "scratch_dir", "attempt", "active"]

_metrics_file = None
_terminated = False
_handler_installed = False
_standalone_scratch = None


def active():
    """True when the script runs as a Cadenza stage."""
    return bool(os.environ.get("CADENZA_METRICS"))


def params(defaults=None):
    """The stage's own params (workflow.toml, --set, sweeps) over `defaults`."""
    out = dict(defaults or {})
    path = os.environ.get("CADENZA_PARAMS")
    if path:
        with open(path, encoding="utf-8") as f:
            out.update(json.load(f))
    return out


def _write(record):
    global _metrics_file
    path = os.environ.get("CADENZA_METRICS")
    if not path:
        return
    if _metrics_file is None:
        _metrics_file = open(path, "a", encoding="utf-8")
    # One write per line, flushed: the stage reads it while we run.
    _metrics_file.write(json.dumps(record, allow_nan=True) + "\n")
    _metrics_file.flush()


def _number(name, value):
    if hasattr(value, "item"):  # a 0-d tensor or NumPy scalar
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("cadenza.log: %s must be a number, not %r" % (name, value))
    return value


def log(metrics=None, step=None, **more):
    """Reports metrics at `step`: log({"train/loss": 0.1}, step=3) or log(step=3, loss=0.1).

    Without a step, the last one given. Tensors and NumPy scalars are fine;
    a string is recorded as text.
    """
    record = {}
    if step is not None:
        record["step"] = int(step)
    for name, value in list((metrics or {}).items()) + list(more.items()):
        if name in ("step", "progress", "audio"):
            raise ValueError("cadenza.log: %r is reserved; pick another metric name" % name)
        record[name] = value if isinstance(value, str) else _number(name, value)
    _write(record)


def log_audio(tag, wav_path, step=None):
    """Reports a WAV file the script wrote (any format libsndfile reads) as audio `tag`."""
    record = {"audio": {tag: os.path.abspath(wav_path)}}
    if step is not None:
        record["step"] = int(step)
    _write(record)


def progress(done, total, unit="steps"):
    """Progress for `cadenza status`: `done` of `total` `unit`s."""
    _write({"progress": [_number("done", done), _number("total", total), str(unit)]})


def _on_sigterm(signum, frame):
    global _terminated
    _terminated = True


def should_stop():
    """True once Cadenza asks the stage to stop (a stop rule, cancel, exp stop).

    The first call also turns SIGTERM (a cancel, a SLURM time limit) into a
    stop request, so a script that asks can save a checkpoint and return.
    """
    global _handler_installed
    if not _handler_installed and active():
        _handler_installed = True
        try:
            signal.signal(signal.SIGTERM, _on_sigterm)
        except ValueError:  # not the main thread: SIGTERM keeps its default
            pass
    stop_file = os.environ.get("CADENZA_STOP_FILE")
    return _terminated or bool(stop_file and os.path.exists(stop_file))


def scratch_dir():
    """A directory that survives the attempts of this stage run: checkpoints go here.

    Run by hand, a fresh temporary directory for this process.
    """
    global _standalone_scratch
    path = os.environ.get("CADENZA_SCRATCH_DIR")
    if path:
        os.makedirs(path, exist_ok=True)
        return path
    if _standalone_scratch is None:
        _standalone_scratch = tempfile.mkdtemp(prefix="cadenza-scratch-")
    return _standalone_scratch


def attempt():
    """1 for the first attempt of this stage run, 2 for its first retry, ..."""
    return int(os.environ.get("CADENZA_ATTEMPT", "1"))
