"""The `cadenza` Python module a script stage imports (plugins/stage_shell/python).

Run: /usr/bin/python3 -m unittest tests/python/test_cadenza_module.py, with
the module's directory on PYTHONPATH (ctest does both).
"""
import importlib
import json
import math
import os
import signal
import tempfile
import unittest

import cadenza

ENV = ("CADENZA_METRICS", "CADENZA_PARAMS", "CADENZA_STOP_FILE", "CADENZA_SCRATCH_DIR", "CADENZA_ATTEMPT")


class Module(unittest.TestCase):
    def setUp(self):
        self.saved = {k: os.environ.pop(k, None) for k in ENV}
        self.dir = tempfile.TemporaryDirectory()
        importlib.reload(cadenza)

    def tearDown(self):
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        self.dir.cleanup()

    def under_cadenza(self, params=None):
        d = self.dir.name
        with open(os.path.join(d, "params.json"), "w") as f:
            json.dump(params or {}, f)
        os.environ.update({"CADENZA_METRICS": d + "/metrics.jsonl", "CADENZA_PARAMS": d + "/params.json",
                           "CADENZA_STOP_FILE": d + "/stop", "CADENZA_SCRATCH_DIR": d + "/scratch",
                           "CADENZA_ATTEMPT": "2"})
        importlib.reload(cadenza)

    def lines(self):
        with open(os.environ["CADENZA_METRICS"]) as f:
            return [l for l in f.read().split("\n") if l]

    def test_standalone_the_script_runs_with_its_defaults_and_logs_nothing(self):
        self.assertFalse(cadenza.active())
        self.assertEqual(cadenza.params({"lr": 0.01}), {"lr": 0.01})
        cadenza.log({"loss": 1.0}, step=1)
        cadenza.progress(1, 2)
        self.assertFalse(cadenza.should_stop())
        self.assertTrue(os.path.isdir(cadenza.scratch_dir()))
        self.assertEqual(cadenza.scratch_dir(), cadenza.scratch_dir())
        self.assertEqual(cadenza.attempt(), 1)
        self.assertEqual(signal.getsignal(signal.SIGTERM), signal.SIG_DFL)

    def test_under_cadenza_params_override_defaults(self):
        self.under_cadenza({"lr": 0.5, "hidden": 32})
        self.assertEqual(cadenza.params({"lr": 0.01, "epochs": 3}), {"lr": 0.5, "hidden": 32, "epochs": 3})
        self.assertEqual(cadenza.attempt(), 2)
        self.assertEqual(cadenza.scratch_dir(), self.dir.name + "/scratch")
        self.assertTrue(os.path.isdir(cadenza.scratch_dir()))

    def test_each_call_is_one_metrics_line(self):
        self.under_cadenza()
        cadenza.log({"train/loss": 0.5, "val/esr": float("nan")}, step=3)
        cadenza.log(loss=0.25, phase="fine-tune")
        cadenza.progress(3, 10, "epochs")
        cadenza.log_audio("val/prediction", "p.wav", step=3)
        lines = self.lines()
        self.assertEqual(len(lines), 4)
        self.assertIn("NaN", lines[0])  # Python's json, as the stage reads it
        first = json.loads(lines[0])
        self.assertEqual(first["step"], 3)
        self.assertTrue(math.isnan(first["val/esr"]))
        self.assertEqual(json.loads(lines[1]), {"loss": 0.25, "phase": "fine-tune"})
        self.assertEqual(json.loads(lines[2]), {"progress": [3, 10, "epochs"]})
        self.assertEqual(json.loads(lines[3])["audio"]["val/prediction"], os.path.abspath("p.wav"))

    def test_bad_metrics_are_refused_in_the_script_where_they_are_written(self):
        self.under_cadenza()
        with self.assertRaisesRegex(ValueError, "reserved"):
            cadenza.log({"step": 1})
        with self.assertRaisesRegex(TypeError, "must be a number"):
            cadenza.log({"w": [1, 2]})

    def test_should_stop_sees_the_stop_file_and_sigterm(self):
        self.under_cadenza()
        self.assertFalse(cadenza.should_stop())
        open(os.environ["CADENZA_STOP_FILE"], "w").close()
        self.assertTrue(cadenza.should_stop())
        os.remove(os.environ["CADENZA_STOP_FILE"])
        importlib.reload(cadenza)
        self.assertFalse(cadenza.should_stop())  # installs the SIGTERM handler
        os.kill(os.getpid(), signal.SIGTERM)
        self.assertTrue(cadenza.should_stop())


if __name__ == "__main__":
    unittest.main()
