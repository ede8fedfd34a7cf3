// A project the way Cadenza's users bring it from DVC: Python scripts under
// src/ that read params.yaml, import a helper module nobody declares, and
// write their outputs at fixed relative paths. Run with Debian's
// /usr/bin/python3 (PyYAML from python3-yaml).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "workspace.h"

namespace cadenza::test {

// prepare writes data/processed/ itself; train reads params.yaml (its lr,
// tracked) and its own params (hidden, from $CADENZA_PARAMS, the environment
// and the command line) and writes models/model.json with all it saw.
// Every execution appends "<stage> <cwd>" to `trace`.
inline std::string script_workflow(const std::string& trace, const std::string& header = "") {
  return "[workflow]\nname = \"scripts\"\n" + header +
         "\n[stages.prepare]\nplugin = \"shell\"\n"
         "deps = { raw = \"data/raw.txt\", code = \"src/prepare.py\" }\n"
         "outs = { processed = \"data/processed\" }\n"
         "params = { cmd = \"/usr/bin/python3 src/prepare.py\", trace = \"" + trace + "\" }\n"
         "\n[stages.train]\nplugin = \"shell\"\n"
         "deps = { data = \"data/processed\", code = \"src/train.py\" }\n"
         "outs = { model = \"models\" }\n"
         "params = { cmd = \"/usr/bin/python3 src/train.py --hidden {param:hidden}\", hidden = 16, fail = false, "
         "trace = \"" + trace + "\" }\n"
         "params_files = { \"params.yaml\" = [\"train.lr\"] }\n";
}

inline void write_script_project(Workspace& ws, const std::string& trace, const std::string& header = "") {
  ws.write("workflow.toml", script_workflow(trace, header));
  ws.write("data/raw.txt", "one\ntwo\nthree\n");
  ws.write("params.yaml",
           "# hyperparameters\ntrain:\n  lr: 0.01  # Adam's step\n  epochs: 3\nmodel:\n  kind: lstm\n");
  ws.write("src/utils.py",
           "import json, os\n"
           "def params():\n"
           "    with open(os.environ['CADENZA_PARAMS']) as f:\n"
           "        return json.load(f)\n"
           "def trace(stage):\n"
           "    with open(params()['trace'], 'a') as f:\n"
           "        f.write(stage + ' ' + os.getcwd() + '\\n')\n");
  ws.write("src/prepare.py",
           "import os, sys\n"
           "sys.path.insert(0, 'src')\n"
           "import utils\n"
           "utils.trace('prepare')\n"
           "os.makedirs('data/processed', exist_ok=True)\n"
           "lines = open('data/raw.txt').read().split()\n"
           "open('data/processed/lines.txt', 'w').write('\\n'.join(l.upper() for l in lines) + '\\n')\n");
  ws.write("src/train.py",
           "import json, os, sys, yaml\n"
           "sys.path.insert(0, 'src')\n"
           "import utils\n"
           "utils.trace('train')\n"
           "params = yaml.safe_load(open('params.yaml'))\n"
           "own = utils.params()\n"
           "lines = open('data/processed/lines.txt').read().split()\n"
           "os.makedirs('models', exist_ok=True)\n"
           "if own['fail']:\n"
           "    open('models/partial.txt', 'w').write('half')\n"
           "    sys.exit(3)\n"
           "json.dump({'lr': params['train']['lr'], 'hidden': own['hidden'],\n"
           "           'env_hidden': os.environ['CADENZA_PARAM_HIDDEN'], 'argv': sys.argv[1:],\n"
           "           'lines': len(lines), 'cwd': os.getcwd()}, open('models/model.json', 'w'))\n");
}

// What train saw, from the model it wrote under `root` ("" or an
// experiment's ws/).
inline nlohmann::json trained(Workspace& ws, const std::string& root = "") {
  return nlohmann::json::parse(ws.read(root + "models/model.json"));
}

// Executions of `stage` in the trace.
inline int executions(const std::string& trace, const std::string& stage) {
  std::ifstream in(trace);
  int n = 0;
  for (std::string line; std::getline(in, line);) n += line.rfind(stage + " ", 0) == 0;
  return n;
}

}  // namespace cadenza::test
