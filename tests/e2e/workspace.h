// A temporary workspace with a workflow, for end-to-end tests.
#pragma once

#include <chrono>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli_runner.h"
#include "test_util.h"

namespace cadenza {

// A workspace with an input file and a workflow built from `stages`.
class Workspace : public test::TempDir {
 public:
  explicit Workspace(const std::string& stages, const std::string& header = "") {
    write("data/in.txt", "hello\n");
    write("workflow.toml", "[workflow]\nname = \"e2e\"\n" + header + "\n" + stages);
  }
  test::CliResult cadenza(std::vector<std::string> args) { return test::run_cadenza(str(), args); }
  nlohmann::json result(const std::string& stage) {
    return nlohmann::json::parse(read(".cadenza/runs/latest/" + stage + "/result.json"));
  }
};

inline std::string worker(const std::string& name, const std::string& dep, const std::string& out,
                   const std::string& params = "") {
  return "[stages." + name + "]\nplugin = \"test_worker\"\ndeps = { in = \"" + dep +
         "\" }\nouts = { out = \"" + out + "\" }\nparams = { " + params + " }\n\n";
}

// Lines of a workspace file: executions, for the test worker's `trace` param.
inline int lines_of(const Workspace& ws, const std::string& rel) {
  std::ifstream in(ws.str() + "/" + rel);
  int n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

// Polls `done` until it holds or `limit_s` passed; returns whether it held.
inline bool wait_until(const std::function<bool()>& done, double limit_s = 60) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(limit_s);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

}  // namespace cadenza
