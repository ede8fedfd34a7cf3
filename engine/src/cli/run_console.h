// What `cadenza run` prints while it runs: one line per event, and the
// progress of running stages (from their progress.json) — a bar redrawn in
// place on a terminal, else a plain line when it changed, at most every 10 s.
// Every line goes through say(), so a bar on screen is cleared first.
#pragma once

#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace cadenza {

class RunConsole {
 public:
  // `tty`: draw a bar redrawn in place rather than plain progress lines.
  RunConsole(std::ostream& out, bool tty) : out_(out), tty_(tty) {}

  void say(const std::string& line);

  struct Running {
    std::string stage;
    std::string progress_file;  // <run dir>/<stage>/progress.json
  };
  // Cheap to call often: does nothing until its interval has passed.
  void show_progress(const std::vector<Running>& running, double now_s);

 private:
  std::ostream& out_;
  bool tty_;
  bool bar_shown_ = false;
  double last_ = 0;
  std::map<std::string, std::string> last_line_;  // by stage, for plain lines
};

}  // namespace cadenza
