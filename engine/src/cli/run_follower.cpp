#include "run_follower.h"

#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "error.h"
#include "orchestrator.h"
#include "run_record.h"

namespace cadenza {

using nlohmann::json;

namespace {

// Reads what was appended to a file since the last call, whole lines only.
class Tail {
 public:
  explicit Tail(std::string path) : path_(std::move(path)) {}
  template <typename Fn>
  void lines(Fn&& fn) {
    std::ifstream in(path_, std::ios::binary);
    if (!in) return;
    in.seekg(pos_);
    std::string line;
    while (std::getline(in, line)) {
      if (in.eof()) break;  // no newline yet: a line still being written
      pos_ += static_cast<std::streamoff>(line.size() + 1);
      fn(line);
    }
  }

 private:
  std::string path_;
  std::streamoff pos_ = 0;
};

std::string event_line(const json& e) {
  const std::string event = e.at("event");
  const std::string stage = e.value("stage", "");
  if (event == "submitted") return "[" + stage + "] submitted (" + e.value("handle", "") + ")";
  if (event == "running") return "[" + stage + "] started" + (e.contains("node") ? " on " + e.value("node", "") : "");
  if (event == "waiting_for") return "[" + stage + "] waiting for " + e.value("handle", "");
  if (event != "finished") return "";
  std::string line = "[" + stage + "] " + e.value("outcome", "");
  if (e.contains("reused")) line += " (" + e.value("reused", "") + ")";
  if (e.contains("error")) line += ": " + e.value("error", "");
  if (e.contains("retry")) line += "; " + e.value("retry", "");
  return line;
}

}  // namespace

int follow_run(const std::string& runs_dir, const std::string& run_id) {
  auto run = read_run(runs_dir, run_id);
  if (!run) throw Error("no run to attach to under " + runs_dir);
  std::cout << "cadenza: attached to run " << run->run_id() << " (Ctrl-C stops following; the run goes on)\n";
  Tail events(run->run_dir + "/events.jsonl");
  std::map<std::string, Tail> logs;  // by attempt dir
  install_interrupt_handlers();
  while (true) {
    events.lines([&](const std::string& line) {
      try {
        const json e = json::parse(line);
        const std::string text = event_line(e);
        if (!text.empty()) std::cout << text << "\n";
        if (e.at("event") == "submitted") logs.emplace(e.at("dir").get<std::string>() + "\t" + e.value("stage", ""),
                                                       Tail(e.at("dir").get<std::string>() + "/log.txt"));
      } catch (const std::exception&) {
      }
    });
    for (auto& [key, tail] : logs) {
      const std::string stage = key.substr(key.find('\t') + 1);
      tail.lines([&](const std::string& line) { std::cout << "[" << stage << "] " << line << "\n"; });
    }
    std::cout << std::flush;
    run = read_run(runs_dir, run->run_id());
    if (!run) return 1;
    if (run->finished) {
      std::cout << "cadenza: run " << run->run_id() << " finished with exit code " << run->exit_code << "\n";
      return run->exit_code;
    }
    if (!run->alive()) {
      std::cout << "cadenza: run " << run->run_id() << "'s driver died; `cadenza status` shows what is left\n";
      return 1;
    }
    if (interrupt_count() > 0) {
      std::cout << "cadenza: stopped following run " << run->run_id() << "; it goes on\n";
      return 130;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace cadenza
