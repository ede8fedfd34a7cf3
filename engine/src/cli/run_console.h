// What `cadenza run` prints while it runs: one line per event, and the
// progress of running stages (from their progress.json) — a bar redrawn in
// place on a terminal, else a plain line when it changed, at most every 10 s.
// Every line goes through say(), so a bar on screen is cleared first. The bar
// fits the terminal's width (a wrapped bar cannot be redrawn in place): the
// stages that do not fit are counted ("+3 more").
#pragma once

#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace cadenza {

class RunConsole {
 public:
  // `tty`: draw a bar redrawn in place rather than plain progress lines.
  // `columns`: the terminal's width now (default: stdout's, else $COLUMNS, else 80).
  RunConsole(std::ostream& out, bool tty, std::function<int()> columns = terminal_columns)
      : out_(out), tty_(tty), columns_(std::move(columns)) {}

  static int terminal_columns();

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
  std::function<int()> columns_;
  bool bar_shown_ = false;
  double last_ = 0;
  std::map<std::string, std::string> last_line_;  // by stage, for plain lines
};

}  // namespace cadenza
