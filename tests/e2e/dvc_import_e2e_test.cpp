// End-to-end: a DVC 3 project shaped like the audio template (Python
// scripts, nested params.yaml, key-level params, a matrix over two params,
// a foreach over report names, wdir, vars) imported with `cadenza import
// dvc`, run, swept and shown. The fixture is written here from DVC's
// documented syntax. Real binary, Debian's /usr/bin/python3.
#include <gmock/gmock.h>

#include "subprocess.h"
#include "workspace.h"

namespace cadenza {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using nlohmann::json;

void write_dvc_project(Workspace& ws) {
  ws.write("workflow.toml", "");  // Workspace writes one; a DVC project has none
  std::filesystem::remove(ws.path() / "workflow.toml");
  ws.write("params.yaml",
           "data:\n  lines: 4\ntrain:\n  epochs: 2\n  scale: 1.0\neval:\n  threshold: 0.5\n");
  ws.write("data/raw.txt", "1\n2\n3\n4\n5\n6\n");
  ws.write("src/prepare.py",
           "import os, yaml\n"
           "p = yaml.safe_load(open('params.yaml'))['data']\n"
           "rows = open('data/raw.txt').read().split()[:p['lines']]\n"
           "os.makedirs('data/prepared', exist_ok=True)\n"
           "open('data/prepared/rows.txt', 'w').write('\\n'.join(rows))\n");
  ws.write("src/train.py",
           "import json, os, sys, yaml\n"
           "p = yaml.safe_load(open('params.yaml'))['train']\n"
           "lr, hidden = float(sys.argv[1]), int(sys.argv[2])\n"
           "rows = [float(r) for r in open('data/prepared/rows.txt').read().split()]\n"
           "os.makedirs('models', exist_ok=True)\n"
           "json.dump({'weight': sum(rows) * lr * hidden * p['epochs'] * p['scale']},\n"
           "          open('models/model-%s-%s.json' % (sys.argv[1], sys.argv[2]), 'w'))\n");
  ws.write("eval/evaluate.py",
           "import json, yaml\n"
           "t = yaml.safe_load(open('params.yaml'))['eval']['threshold']\n"
           "w = json.load(open('../models/model-0.1-8.json'))['weight']\n"
           "json.dump({'test': {'score': w, 'passed': w > t}, 'step': 1}, open('metrics.json', 'w'))\n");
  ws.write("eval/params.yaml", "eval:\n  threshold: 0.5\n");
  ws.write("src/report.py",
           "import json, os, sys\n"
           "m = json.load(open('eval/metrics.json'))\n"
           "os.makedirs('reports', exist_ok=True)\n"
           "open('reports/%s.txt' % sys.argv[1], 'w').write('%s: %s\\n' % (sys.argv[1], m['test']['score']))\n");
  ws.write("dvc.yaml",
           "vars:\n"
           "  - report_names: [short, full]\n"
           "stages:\n"
           "  prepare:\n"
           "    cmd: /usr/bin/python3 src/prepare.py\n"
           "    deps: [src/prepare.py, data/raw.txt]\n"
           "    params: [data.lines]\n"
           "    outs: [data/prepared]\n"
           "  train:\n"
           "    matrix:\n"
           "      lr: [0.1, 0.2]\n"
           "      hidden: [8, 16]\n"
           "    cmd: /usr/bin/python3 src/train.py ${item.lr} ${item.hidden}\n"
           "    deps: [src/train.py, data/prepared]\n"
           "    params: [train.epochs, train.scale]\n"
           "    outs:\n"
           "      - models/model-${item.lr}-${item.hidden}.json\n"
           "  evaluate:\n"
           "    wdir: eval\n"
           "    cmd: /usr/bin/python3 evaluate.py\n"
           "    deps: [evaluate.py, ../models/model-0.1-8.json]\n"
           "    params: [eval.threshold]\n"
           "    metrics: [{metrics.json: {cache: false}}]\n"
           "  report:\n"
           "    foreach: ${report_names}\n"
           "    do:\n"
           "      cmd: /usr/bin/python3 src/report.py ${item}\n"
           "      deps: [src/report.py, eval/metrics.json]\n"
           "      outs:\n"
           "        - reports/${item}.txt\n"
           "      frozen: false\n");
  ws.write(".dvc/config", "[core]\n    remote = store\n['remote \"store\"']\n    url = ../dvc-store\n"
                          "['remote \"cloud\"']\n    url = s3://bucket/path\n");
}

TEST(DvcImportE2E, ATemplateShapedProjectImportsRunsSweepsAndShows) {
  Workspace ws("");
  write_dvc_project(ws);
  auto imported = ws.cadenza({"import", "dvc"});
  ASSERT_EQ(imported.exit_code, 0) << imported.output;
  EXPECT_THAT(imported.output, HasSubstr(": 8 stages from dvc.yaml"));
  EXPECT_THAT(imported.output, HasSubstr("stage train@0.1-8 is train-0_1-8"));
  EXPECT_THAT(imported.output, HasSubstr("stage report@short is report-short"));
  EXPECT_THAT(imported.output, HasSubstr(".dvc/config: remote 'cloud' (s3://bucket/path)"));
  const std::string toml = ws.read("workflow.toml");
  EXPECT_THAT(toml, HasSubstr("remote = \"dvc-store\""));  // DVC's relative URLs are from .dvc/
  EXPECT_THAT(toml, HasSubstr("cmd = \"cd eval && /usr/bin/python3 evaluate.py\""));
  EXPECT_THAT(toml, HasSubstr("metrics_from_files = [\"eval/metrics.json\"]"));
  EXPECT_THAT(toml, HasSubstr("params_files = { \"eval/params.yaml\" = [\"eval.threshold\"] }"));

  // Refuses to replace it without --force.
  auto again = ws.cadenza({"import", "dvc"});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_THAT(again.output, HasSubstr("workflow.toml exists; `cadenza import dvc --force` replaces it"));

  auto run = ws.cadenza({"run"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("cadenza: 8 ran"));
  EXPECT_EQ(ws.read("reports/full.txt"), "full: 16.0\n");  // (1+2+3+4) * 0.1 * 8 * 2 epochs * 1.0
  EXPECT_THAT(ws.cadenza({"run"}).output, HasSubstr("0 ran"));

  // dvc exp run -S train.epochs=3 -> cadenza exp run --set params.yaml:train.epochs=3
  auto sweep = ws.cadenza({"exp", "run", "--grid", "params.yaml:train.epochs=3,4", "-j", "2"});
  ASSERT_EQ(sweep.exit_code, 0) << sweep.output;
  auto show = ws.cadenza({"exp", "show", "--json"});
  ASSERT_EQ(show.exit_code, 0) << show.output;
  std::map<std::string, json> rows;
  for (auto& r : json::parse(show.output)) rows[r["name"]] = r;
  ASSERT_EQ(rows.size(), 2u) << show.output;
  EXPECT_DOUBLE_EQ(rows["epochs-3"]["metrics"]["test/score"]["last"].get<double>(), 24.0);
  EXPECT_DOUBLE_EQ(rows["epochs-4"]["metrics"]["test/score"]["last"].get<double>(), 32.0);
  EXPECT_DOUBLE_EQ(rows["epochs-4"]["metrics"]["test/passed"]["last"].get<double>(), 1.0);
}

TEST(DvcImportE2E, ABadDvcYamlIsRefusedWithItsLineAndNothingIsWritten) {
  Workspace ws("");
  std::filesystem::remove(ws.path() / "workflow.toml");
  ws.write("dvc.yaml", "stages:\n  train:\n    cmd: python3 train.py\n    outs: [model.pt]\n    dep: [train.py]\n");
  auto r = ws.cadenza({"import", "dvc"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("dvc.yaml:5:5: stage 'train': unknown key 'dep'"));
  EXPECT_FALSE(ws.exists("workflow.toml"));
}

}  // namespace
}  // namespace cadenza

namespace cadenza {
namespace {

// What `dvc repro` leaves: the outputs and a dvc.lock with their md5s (DVC
// 3: a file's md5; a directory's, of its sorted {"md5", "relpath"} list as
// json.dumps(sort_keys=True) writes it, plus ".dir"), computed here with
// Python's hashlib, apart from Cadenza's own code.
const char* kFakeRepro =
    "import hashlib, json, os, subprocess, yaml\n"
    "def md5f(p): return hashlib.md5(open(p, 'rb').read()).hexdigest()\n"
    "def md5d(d):\n"
    "    e = [{'md5': md5f(os.path.join(b, f)), 'relpath': os.path.relpath(os.path.join(b, f), d)}\n"
    "         for b, _, fs in os.walk(d) for f in fs]\n"
    "    e.sort(key=lambda x: x['relpath'])\n"
    "    return hashlib.md5(json.dumps(e, sort_keys=True).encode()).hexdigest() + '.dir'\n"
    "def md5(p): return md5d(p) if os.path.isdir(p) else md5f(p)\n"
    "dvc = yaml.safe_load(open('dvc.yaml'))['stages']\n"
    "params = yaml.safe_load(open('params.yaml'))\n"
    "lock = {'schema': '2.0', 'stages': {}}\n"
    "for name, s in dvc.items():\n"
    "    subprocess.run(s['cmd'], shell=True, check=True)\n"
    "    entry = {'cmd': s['cmd'],\n"
    "             'deps': [{'path': p, 'hash': 'md5', 'md5': md5(p)} for p in s.get('deps', [])],\n"
    "             'outs': [{'path': p, 'hash': 'md5', 'md5': md5(p)} for p in s.get('outs', [])]}\n"
    "    if 'params' in s:\n"
    "        entry['params'] = {'params.yaml': {k: params[k.split('.')[0]][k.split('.')[1]] for k in s['params']}}\n"
    "    lock['stages'][name] = entry\n"
    "yaml.safe_dump(lock, open('dvc.lock', 'w'), sort_keys=False)\n";

void write_repro_project(Workspace& ws) {
  std::filesystem::remove(ws.path() / "workflow.toml");
  ws.write("params.yaml", "data:\n  n: 3\ntrain:\n  gain: 2\n");
  ws.write("src/prepare.py",
           "import os, yaml\nn = yaml.safe_load(open('params.yaml'))['data']['n']\n"
           "os.makedirs('data/prepared/sub', exist_ok=True)\n"
           "for i in range(n): open('data/prepared/part-%d.txt' % i, 'w').write(str(i))\n"
           "open('data/prepared/sub/meta.txt', 'w').write('ünïcode name inside')\n");
  ws.write("src/train.py",
           "import json, os, yaml\ng = yaml.safe_load(open('params.yaml'))['train']['gain']\n"
           "parts = sorted(os.listdir('data/prepared'))\n"
           "json.dump({'gain': g, 'parts': parts}, open('model.json', 'w'))\n"
           "open('trace.txt', 'a').write('train\\n')\n");
  ws.write("dvc.yaml",
           "stages:\n"
           "  prepare:\n"
           "    cmd: /usr/bin/python3 src/prepare.py\n"
           "    deps: [src/prepare.py]\n"
           "    params: [data.n]\n"
           "    outs: [data/prepared]\n"
           "  train:\n"
           "    cmd: /usr/bin/python3 src/train.py\n"
           "    deps: [src/train.py, data/prepared]\n"
           "    params: [train.gain]\n"
           "    outs: [model.json]\n");
  ws.write("fake_repro.py", kFakeRepro);
  ASSERT_EQ(run_process({"/bin/sh", "-c", "cd " + ws.str() + " && /usr/bin/python3 fake_repro.py"}).exit_code, 0);
  std::filesystem::remove(ws.path() / "trace.txt");
}

TEST(DvcImportE2E, AdoptedOutputsMakeTheFirstRunRunNothing) {
  Workspace ws("");
  write_repro_project(ws);
  auto r = ws.cadenza({"import", "dvc", "--adopt"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("adopted 2 stages whose outputs match dvc.lock"));
  auto run = ws.cadenza({"run"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, Not(HasSubstr("] done in")));
  EXPECT_FALSE(ws.exists("trace.txt")) << run.output;
  EXPECT_THAT(ws.cadenza({"status"}).output, ::testing::ContainsRegex("train +up to date"));
  // The adopted outputs are in the cache: deleted, they come back.
  std::filesystem::remove(ws.path() / "model.json");
  ASSERT_EQ(ws.cadenza({"checkout"}).exit_code, 0);
  EXPECT_THAT(ws.read("model.json"), HasSubstr("\"gain\": 2"));
}

TEST(DvcImportE2E, AnEditedOutputIsNotAdoptedAndItsStageRuns) {
  Workspace ws("");
  write_repro_project(ws);
  ws.write("model.json", "edited by hand\n");
  auto r = ws.cadenza({"import", "dvc", "--adopt"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("adopted 1 stage whose outputs match dvc.lock"));
  EXPECT_THAT(r.output, HasSubstr("left to run: train: out model.json differs from what dvc.lock recorded"));
  auto run = ws.cadenza({"run"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("[train] done in"));
  EXPECT_THAT(run.output, Not(HasSubstr("[prepare] done in")));
  EXPECT_EQ(ws.read("trace.txt"), "train\n");
}

}  // namespace
}  // namespace cadenza
