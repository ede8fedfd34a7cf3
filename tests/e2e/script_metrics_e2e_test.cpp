// End-to-end: a user's script reports metrics and obeys stop requests the
// way a plugin does: through `import cadenza` ($CADENZA_METRICS), dvclive's
// files or its own output lines, into status, stop rules, `exp show`, the
// experiment records and TensorBoard's HPARAMS. Real binary, Debian's
// /usr/bin/python3 (PyTorch from python3-torch for the example).
#include <gmock/gmock.h>

#include <cmath>
#include <filesystem>

#include "subprocess.h"
#include "workspace.h"

namespace cadenza {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using nlohmann::json;
namespace fs = std::filesystem;

json exp_show(Workspace& ws) {
  auto r = ws.cadenza({"exp", "show", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  json out = json::object();
  for (auto& row : json::parse(r.output)) out[row["name"].get<std::string>()] = row;
  return out;
}

json hparams_rows(const std::string& logdir) {
  auto r = run_process({"/usr/bin/python3", std::string(CADENZA_TEST_SOURCE_DIR) + "/tensorboard/read_events.py",
                        "--hparams", logdir});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return json::parse(r.out)["rows"];
}

// The example of the README's "Bring your own script": copied as a user would.
void copy_python_example(Workspace& ws) {
  const fs::path example = fs::path(CADENZA_TEST_SOURCE_DIR) / ".." / "examples" / "python";
  fs::copy(example, ws.path(), fs::copy_options::recursive | fs::copy_options::overwrite_existing);
}

TEST(ScriptMetricsE2E, ThePythonExampleSweptTwoByTwoReportsEachVariantAndStopsTheDivergingOnes) {
  Workspace ws("");
  copy_python_example(ws);
  auto r = ws.cadenza({"exp", "run", "--grid", "params.yaml:train.lr=0.005,5000", "--grid",
                       "params.yaml:model.hidden=8,16", "--set", "params.yaml:train.epochs=3", "--set",
                       "params.yaml:data.seconds=4", "-j", "2"});
  // A stopped variant makes the sweep's exit non-zero; each must be named.
  EXPECT_THAT(r.output, HasSubstr("stopped by rule `val/esr > 1.0 && epoch >= 1`")) << r.output;
  const json rows = exp_show(ws);
  ASSERT_EQ(rows.size(), 4u) << rows.dump(1);
  const json tb = hparams_rows(ws.str() + "/logs/tensorboard");
  for (const std::string hidden : {"8", "16"}) {
    const json& good = rows.at("epochs-3+seconds-4+lr-0.005+hidden-" + hidden);
    const json& bad = rows.at("epochs-3+seconds-4+lr-5000+hidden-" + hidden);
    EXPECT_EQ(good["status"], "succeeded") << good.dump();
    EXPECT_LT(good["metrics"]["val/esr"]["last"].get<double>(), 0.5) << good.dump();
    EXPECT_LT(good["metrics"]["train/loss"]["last"].get<double>(), 0.1);
    EXPECT_EQ(bad["status"], "stopped") << bad.dump();
    EXPECT_GT(bad["metrics"]["val/esr"]["last"].get<double>(), 1.0) << bad.dump();
    // TensorBoard's HPARAMS row holds the same values.
    const json& row = tb.at(good["name"].get<std::string>());
    EXPECT_EQ(row["hparams"]["params.yaml:train.lr"], 0.005);
    EXPECT_EQ(row["hparams"]["params.yaml:model.hidden"], std::stod(hidden));
    EXPECT_DOUBLE_EQ(row["metrics"]["train:val/esr"].get<double>(), good["metrics"]["val/esr"]["last"].get<double>());
  }
  // The shared prepare stage ran once for the four variants.
  EXPECT_EQ(std::count_if(fs::recursive_directory_iterator(ws.path() / ".cadenza/exps"), {},
                          [](const fs::directory_entry& e) {
                            return e.path().filename() == "result.json" &&
                                   e.path().parent_path().filename() == "prepare" &&
                                   read_file(e.path()).find("\"restored\": false") != std::string::npos;
                          }),
            1);
}

// A script whose epochs wait for the test: status shows its progress and
// latest metrics while it runs.
TEST(ScriptMetricsE2E, StatusShowsAScriptsProgressWhileItRuns) {
  Workspace ws("[stages.train]\nplugin = \"shell\"\nouts = { m = \"out/m\" }\n"
               "params = { cmd = \"/usr/bin/python3 train.py\" }\n");
  ws.write("train.py",
           "import cadenza, os, time\n"
           "for epoch in range(5):\n"
           "    cadenza.log({'train/loss': 1.0 / (epoch + 1)}, step=epoch)\n"
           "    cadenza.progress(epoch + 1, 5, 'epochs')\n"
           "    while epoch == 1 and not os.path.exists('go'):\n"
           "        time.sleep(0.05)\n"
           "os.makedirs('out', exist_ok=True)\n"
           "open('out/m', 'w').write('done')\n");
  test::CliProcess run(ws.str(), {"run"});
  std::string status;
  EXPECT_TRUE(wait_until([&] {
    status = ws.cadenza({"status"}).output;
    return status.find("2/5 epochs") != std::string::npos;
  })) << status;
  EXPECT_THAT(status, HasSubstr("train/loss"));
  ws.write("go", "");
  EXPECT_EQ(run.wait().exit_code, 0);
  EXPECT_EQ(ws.read("out/m"), "done");
}

// `cadenza cancel` reaches a script that asks should_stop(): it saves and
// returns instead of dying mid-write.
TEST(ScriptMetricsE2E, CancelTurnsShouldStopTrueAndTheScriptEndsOnItsOwnTerms) {
  Workspace ws("[stages.train]\nplugin = \"shell\"\nouts = { m = \"out/m\" }\n"
               "params = { cmd = \"/usr/bin/python3 train.py\" }\n");
  ws.write("train.py",
           "import cadenza, os, time\n"
           "stop = cadenza.should_stop()\n"  // asked before the test may cancel: the file appears after
           "open('asked.tmp', 'w').write(str(stop))\n"
           "os.replace('asked.tmp', 'asked')\n"
           "while not cadenza.should_stop():\n"
           "    time.sleep(0.05)\n"
           "open('ended', 'w').write('saved a checkpoint and returned')\n");
  test::CliProcess run(ws.str(), {"run"});
  ASSERT_TRUE(wait_until([&] { return ws.exists("asked"); }));
  EXPECT_EQ(ws.read("asked"), "False");
  auto cancel = ws.cadenza({"cancel", "--all"});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.output;
  const auto r = run.wait();
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(ws.read("ended"), "saved a checkpoint and returned") << r.output;
  EXPECT_EQ(ws.result("train")["outcome"], "cancelled");
  EXPECT_FALSE(ws.exists("out/m"));
}

// The script checkpoints each epoch in the scratch dir; a time limit ends
// attempt 1 and attempt 2 resumes from the checkpoint.
TEST(ScriptMetricsE2E, AnAttemptStoppedAtATimeLimitResumesFromItsCheckpoint) {
  Workspace ws("[stages.train]\nplugin = \"shell\"\nouts = { m = \"out/epochs\" }\n"
               "params = { cmd = \"/usr/bin/python3 train.py\" }\n"
               "resources = { time = \"5s\" }\nretries = 1\nretry_time_factor = 10\n");
  ws.write("train.py",
           "import cadenza, json, os, time\n"
           "ckpt = os.path.join(cadenza.scratch_dir(), 'ckpt.json')\n"
           "done = json.load(open(ckpt)) if os.path.exists(ckpt) else []\n"
           "print('attempt %d resumes after %d epochs' % (cadenza.attempt(), len(done)), flush=True)\n"
           "for epoch in range(len(done), 20):\n"
           "    time.sleep(0.4)\n"
           "    done.append([epoch, cadenza.attempt()])\n"
           "    json.dump(done, open(ckpt + '.tmp', 'w'))\n"
           "    os.replace(ckpt + '.tmp', ckpt)\n"
           "    cadenza.log({'epoch_done': epoch}, step=epoch)\n"
           "os.makedirs('out', exist_ok=True)\n"
           "json.dump(done, open('out/epochs', 'w'))\n");
  auto r = ws.cadenza({"run"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("[train] TIMED OUT"));
  EXPECT_THAT(r.output, HasSubstr("attempt 1 resumes after 0 epochs"));
  EXPECT_THAT(r.output, Not(HasSubstr("attempt 2 resumes after 0 epochs")));
  const json epochs = json::parse(ws.read("out/epochs"));
  ASSERT_EQ(epochs.size(), 20u);  // 8 s of epochs: attempt 1's 5 s cannot hold them, even a slow start's
  for (int e = 0; e < 20; ++e) EXPECT_EQ(epochs[e][0], e);  // each epoch once, in order
  EXPECT_EQ(epochs.front()[1], 1);
  EXPECT_EQ(epochs.back()[1], 2);
}

// dvclive's files, written as dvclive 3 writes them (dvclive itself is not
// installable here): the rows become metrics, and a stop rule on them stops
// the script through should_stop().
TEST(ScriptMetricsE2E, AScriptLoggingWithDvcliveReachesExpShowAndAStopRule) {
  Workspace ws("[stages.train]\nplugin = \"shell\"\nouts = { m = \"out/m\" }\n"
               "params = { cmd = \"/usr/bin/python3 train.py\", metrics_from_dvclive = \"dvclive\", growth = 1.5 }\n"
               "stop_when = \"train/loss > 3\"\n");
  ws.write("train.py",
           "import cadenza, json, os, shutil, time\n"
           "growth = cadenza.params()['growth']\n"
           "shutil.rmtree('dvclive', ignore_errors=True)\n"
           "os.makedirs('dvclive/plots/metrics/train', exist_ok=True)\n"
           "tsv = 'dvclive/plots/metrics/train/loss.tsv'\n"
           "open(tsv, 'w').write('timestamp\\tstep\\tloss\\n')\n"
           "loss = 1.0\n"
           "for step in range(40):\n"
           "    loss *= growth\n"
           "    with open(tsv, 'a') as f:\n"
           "        f.write('%d\\t%d\\t%s\\n' % (time.time() * 1000, step, loss))\n"
           "    json.dump({'train': {'loss': loss}, 'step': step}, open('dvclive/metrics.json', 'w'))\n"
           "    if cadenza.should_stop():\n"
           "        raise SystemExit(0)\n"
           "    time.sleep(0.2)\n"
           "os.makedirs('out', exist_ok=True)\n"
           "open('out/m', 'w').write(str(loss))\n");
  auto r = ws.cadenza({"exp", "run", "--name", "grows"});
  EXPECT_THAT(r.output, HasSubstr("stopped by rule `train/loss > 3`")) << r.output;
  const json rows = exp_show(ws);
  EXPECT_EQ(rows["grows"]["status"], "stopped");
  EXPECT_GT(rows["grows"]["metrics"]["train/loss"]["last"].get<double>(), 3.0);
  EXPECT_LT(rows["grows"]["metrics"]["train/loss"]["last"].get<double>(), std::pow(1.5, 40));  // before its end
}

// A script that only prints: a pattern turns its lines into metrics.
TEST(ScriptMetricsE2E, AScriptThatOnlyPrintsReachesExpShowAndAStopRuleThroughAPattern) {
  Workspace ws("[stages.train]\nplugin = \"shell\"\nouts = { m = \"out/m\" }\n"
               "params = { cmd = \"/usr/bin/python3 train.py {param:lr}\", lr = 0.1, "
               "metrics_from_output = 'epoch (?P<step>\\d+): loss=(?P<loss>\\S+)', stop_grace_s = 0.5 }\n"
               "stop_when = \"loss > 2 && epoch >= 2\"\n");
  ws.write("train.py",
           "import os, sys, time\n"
           "lr = float(sys.argv[1])\n"
           "loss = 1.0\n"
           "for epoch in range(30):\n"
           "    loss *= (1 + lr)\n"
           "    print('epoch %d: loss=%.4f' % (epoch, loss))\n"  // no flush: PYTHONUNBUFFERED does it
           "    time.sleep(0.2)\n"
           "os.makedirs('out', exist_ok=True)\n"
           "open('out/m', 'w').write(str(loss))\n");
  // It never asks should_stop(): SIGTERM after stop_grace_s ends it.
  auto calm = ws.cadenza({"exp", "run", "--set", "train.lr=0.01"});
  EXPECT_EQ(calm.exit_code, 0) << calm.output;
  EXPECT_THAT(calm.output, HasSubstr("[train] epoch 29: loss="));  // the output still reaches the log
  auto wild = ws.cadenza({"exp", "run", "--set", "train.lr=0.5"});
  EXPECT_THAT(wild.output, HasSubstr("stopped by rule `loss > 2 && epoch >= 2` at step 2: loss = 3.375")) << wild.output;
  EXPECT_THAT(wild.output, Not(HasSubstr("epoch 29")));
  const json rows = exp_show(ws);
  EXPECT_EQ(rows["lr-0.01"]["status"], "succeeded");
  EXPECT_NEAR(rows["lr-0.01"]["metrics"]["loss"]["last"].get<double>(), 1.3478, 1e-3);  // 1.01^30
  EXPECT_EQ(rows["lr-0.5"]["status"], "stopped");
  EXPECT_NEAR(rows["lr-0.5"]["metrics"]["loss"]["max"].get<double>(), rows["lr-0.5"]["metrics"]["loss"]["last"].get<double>(), 1e-9);
  EXPECT_GE(rows["lr-0.5"]["metrics"]["loss"]["last"].get<double>(), 3.375);  // 1.5^3, at step 2, or a line after
}

// Malformed lines are skipped with their line numbers; the stage succeeds
// with what was well-formed. Non-finite values are recorded, not fatal.
TEST(ScriptMetricsE2E, BadMetricsLinesAreWarningsNotFailures) {
  Workspace ws("[stages.train]\nplugin = \"shell\"\nouts = { m = \"out/m\" }\n"
               "params = { cmd = \"/usr/bin/python3 train.py\" }\n");
  ws.write("train.py",
           "import json, os\n"
           "with open(os.environ['CADENZA_METRICS'], 'a') as f:\n"
           "    f.write('{\"step\": 0, \"loss\": 0.5}\\n')\n"
           "    f.write('this is not json\\n')\n"
           "    f.write(json.dumps({'step': 1, 'loss': float('nan'), 'hist': [1, 2]}) + '\\n')\n"
           "    f.write('{\"step\": 2, \"loss\": 0.25}\\n')\n"
           "    f.write('{\"step\": 3, \"lo')\n"  // torn: the script ends mid-line
           "os.makedirs('out', exist_ok=True)\n"
           "open('out/m', 'w').write('ok')\n");
  auto r = ws.cadenza({"run"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("metrics.jsonl:2: skipped, not JSON"));
  EXPECT_THAT(r.output, HasSubstr("metrics.jsonl:3: \"hist\" is ignored"));
  EXPECT_THAT(r.output, HasSubstr("metrics.jsonl:5: skipped, the last line is torn"));
  const std::string recorded = ws.read(".cadenza/runs/latest/train/metrics.jsonl");
  EXPECT_THAT(recorded, HasSubstr("\"step\":2,"));
  EXPECT_EQ(std::count(recorded.begin(), recorded.end(), '\n'), 3);  // 0.5, NaN, 0.25
}

TEST(ScriptMetricsE2E, ABadOutputPatternIsRefusedNamingTheParam) {
  Workspace ws("[stages.train]\nplugin = \"shell\"\nouts = { m = \"out/m\" }\n"
               "params = { cmd = \"true\", metrics_from_output = 'loss=(?P<loss>\\\\S+' }\n");
  auto r = ws.cadenza({"run"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("metrics_from_output: missing closing parenthesis"));
}

}  // namespace
}  // namespace cadenza

namespace cadenza {
namespace {

// The user's first try from the issue: a rule on a metric the script never
// reports must not pass in silence, nor a column no experiment has.
TEST(ScriptMetricsE2E, ARuleOrColumnOnAMetricNeverReportedIsAWarning) {
  Workspace ws("[stages.train]\nplugin = \"shell\"\nouts = { m = \"out/m\" }\n"
               "params = { cmd = \"/usr/bin/python3 train.py\" }\n"
               "stop_when = \"Epoch_Loss/train > 1.0 && epoch >= 1\"\n",
               "[experiments]\nmetrics = [\"loss\", \"Epoch_Loss/train\"]\n");
  ws.write("train.py",
           "import cadenza, os\n"
           "for epoch in range(3):\n"
           "    cadenza.log({'loss': 1000.0 * (epoch + 1)}, step=epoch)\n"
           "os.makedirs('out', exist_ok=True)\n"
           "open('out/m', 'w').write('done')\n");
  auto r = ws.cadenza({"exp", "run", "--name", "first"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("stop_when `Epoch_Loss/train > 1.0 && epoch >= 1` never applied: the stage never "
                                  "reported Epoch_Loss/train"));
  auto show = ws.cadenza({"exp", "show"});
  EXPECT_THAT(show.output, HasSubstr("no experiment reported metric 'Epoch_Loss/train'"));
  EXPECT_THAT(show.output, Not(HasSubstr("no experiment reported metric 'loss'")));
}

}  // namespace
}  // namespace cadenza

// A script that logs only with TensorBoard's SummaryWriter (the template's
// logging), followed through metrics_from_tensorboard. The writer is the
// tests' stand-in (tests/tensorboard/summary_writer.py): the tensorboard
// package SummaryWriter needs is not installable here.
namespace cadenza {
namespace {

void add_summary_writer(Workspace& ws) {
  fs::copy_file(fs::path(CADENZA_TEST_SOURCE_DIR) / "tensorboard" / "summary_writer.py", ws.path() / "summary_writer.py",
                fs::copy_options::overwrite_existing);
}

// Epoch_Loss/train = (1 + lr)^(epoch + 1): diverges for a large lr.
// Epoch_Loss/test = 1 / (hidden * (epoch + 1)) + lr. A batch loss per
// batch, a clip per epoch; a histogram that must be skipped.
const char* kTensorboardScript =
    "import os, sys, time\n"
    "sys.path.insert(0, '.')\n"
    "from summary_writer import SummaryWriter\n"
    "lr, hidden = float(sys.argv[1]), int(sys.argv[2])\n"
    "w = SummaryWriter('logs/tensorboard/run-%d' % os.getpid())\n"
    "for epoch in range(6):\n"
    "    for batch in range(5):\n"
    "        w.add_scalar('Batch_Loss/train', 1.0 / (batch + 1), epoch * 5 + batch)\n"
    "    w.add_scalar('Epoch_Loss/train', (1 + lr) ** (epoch + 1), epoch)\n"
    "    w.add_scalar('Epoch_Loss/test', 1.0 / (hidden * (epoch + 1)) + lr, epoch, new_style=True)\n"
    "    w.add_audio('Audio/prediction', [0.5 * ((i % 20) / 10 - 1) for i in range(400)], epoch, 8000)\n"
    "    w.add_histogram_raw_bytes('weights', epoch)\n"
    "    time.sleep(0.15)\n"
    "os.makedirs('out', exist_ok=True)\n"
    "open('out/m', 'w').write('done')\n";

TEST(ScriptMetricsE2E, AScriptLoggingOnlyToTensorboardIsSweptAndStoppedLikeAnyOther) {
  Workspace ws("[stages.train]\nplugin = \"shell\"\nouts = { m = \"out/m\" }\n"
               "params = { cmd = \"/usr/bin/python3 train.py {param:lr} {param:hidden}\", lr = 0.1, hidden = 8, "
               "metrics_from_tensorboard = \"logs/tensorboard\", stop_grace_s = 0.5 }\n"
               "stop_when = \"Epoch_Loss/train > 5 && epoch >= 1\"\n");
  add_summary_writer(ws);
  ws.write("train.py", kTensorboardScript);
  auto r = ws.cadenza({"exp", "run", "--grid", "train.lr=0.1,3", "--grid", "train.hidden=8,16", "-j", "2"});
  EXPECT_THAT(r.output, HasSubstr("stopped by rule `Epoch_Loss/train > 5 && epoch >= 1` at step 1")) << r.output;
  const json rows = exp_show(ws);
  ASSERT_EQ(rows.size(), 4u) << rows.dump(1);
  for (const int hidden : {8, 16}) {
    const json& good = rows.at("lr-0.1+hidden-" + std::to_string(hidden));
    const json& bad = rows.at("lr-3+hidden-" + std::to_string(hidden));
    EXPECT_EQ(good["status"], "succeeded") << good.dump();
    EXPECT_NEAR(good["metrics"]["Epoch_Loss/test"]["last"].get<double>(), 1.0 / (hidden * 6) + 0.1, 1e-6);
    EXPECT_NEAR(good["metrics"]["Epoch_Loss/train"]["last"].get<double>(), 1.771561, 1e-5);  // 1.1^6
    EXPECT_NEAR(good["metrics"]["Batch_Loss/train"]["last"].get<double>(), 0.2, 1e-6);
    EXPECT_EQ(bad["status"], "stopped") << bad.dump();
    EXPECT_GE(bad["metrics"]["Epoch_Loss/train"]["last"].get<double>(), 16.0);  // 4^2 at epoch 1
  }
  // The clips are the stage's audio, as a plugin's would be.
  const std::string good_run = ".cadenza/exps/lr-0.1+hidden-8/runs/latest/train/";
  const std::string recorded = ws.read(good_run + "metrics.jsonl");
  EXPECT_EQ(std::count(recorded.begin(), recorded.end(), '\n'), 6 * (5 + 2 + 1)) << recorded.substr(0, 400);
  EXPECT_THAT(recorded, HasSubstr("\"type\":\"audio\""));
  EXPECT_TRUE(ws.exists(good_run + "audio/Audio_prediction-step5.wav"));
}

// An earlier run's event file is not read again; a flipped byte and a torn
// tail are warnings naming the file and byte offset, and the rest counts.
TEST(ScriptMetricsE2E, OldEventFilesCorruptRecordsAndATornTailAreHandled) {
  Workspace ws("[stages.train]\nplugin = \"shell\"\nouts = { m = \"out/m\" }\n"
               "params = { cmd = \"/usr/bin/python3 train.py\", metrics_from_tensorboard = \"logs\" }\n");
  add_summary_writer(ws);
  ws.write("old.py",
           "import os, sys\nos.chdir(sys.argv[1])\nsys.path.insert(0, '.')\nfrom summary_writer import SummaryWriter\n"
           "w = SummaryWriter('logs/old')\nw.add_scalar('loss', 999.0, 50)\n");
  ASSERT_EQ(run_process({"/usr/bin/python3", ws.str() + "/old.py", ws.str()}).exit_code, 0);
  ws.write("train.py",
           "import os, sys\nsys.path.insert(0, '.')\n"
           "import summary_writer as sw\n"
           "w = sw.SummaryWriter('logs/new')\n"
           "w.add_scalar('loss', 0.5, 0)\n"
           "good = sw.frame(sw.event(1, sw.field(1, 2, b'loss') + sw.field(2, 5, b'\\x00\\x00\\x00\\x3f')))\n"
           "bad = bytearray(good)\n"
           "bad[20] ^= 0x40\n"
           "start = os.path.getsize(w.path)\n"
           "w._f.write(bytes(bad))\n"
           "w.add_scalar('loss', 0.25, 2)\n"
           "w._f.write(good[:9])\n"  // the script dies mid-record
           "w.flush()\n"
           "print('corrupt record at byte', start)\n"
           "os.makedirs('out', exist_ok=True)\n"
           "open('out/m', 'w').write('ok')\n");
  auto r = ws.cadenza({"run"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string marker = "corrupt record at byte ";
  ASSERT_THAT(r.output, HasSubstr(marker));
  const std::string at = r.output.substr(r.output.find(marker) + marker.size(),
                                         r.output.find('\n', r.output.find(marker)) - r.output.find(marker) - marker.size());
  EXPECT_THAT(r.output, HasSubstr("a record's data is corrupt at byte " + at + ": skipped"));
  EXPECT_THAT(r.output, HasSubstr("the last record is cut off"));
  const std::string recorded = ws.read(".cadenza/runs/latest/train/metrics.jsonl");
  EXPECT_THAT(recorded, Not(HasSubstr("999")));
  EXPECT_EQ(std::count(recorded.begin(), recorded.end(), '\n'), 2) << recorded;  // 0.5 and 0.25
}

}  // namespace
}  // namespace cadenza
