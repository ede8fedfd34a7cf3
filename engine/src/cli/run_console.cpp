#include "run_console.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "fs_util.h"

namespace cadenza {

void RunConsole::say(const std::string& line) {
  if (bar_shown_) {
    out_ << "\r\033[K";
    bar_shown_ = false;
  }
  out_ << line << "\n" << std::flush;
}

void RunConsole::show_progress(const std::vector<Running>& running, double now_s) {
  if (now_s - last_ < (tty_ ? 0.5 : 10.0)) return;
  last_ = now_s;
  std::string bar;
  for (const auto& r : running) {
    nlohmann::json p;
    try {
      p = nlohmann::json::parse(read_file(r.progress_file));
    } catch (const std::exception&) {
      continue;  // the stage has not reported progress (yet)
    }
    const double done = p.value("done", 0.0), total = p.value("total", 0.0);
    if (total <= 0) continue;
    char counts[96];
    std::snprintf(counts, sizeof counts, "%g/%g %s", done, total, p.value("unit", std::string()).c_str());
    std::string text = "[" + r.stage + "] ";
    if (tty_) {
      const int width = 20, filled = static_cast<int>(width * std::min(1.0, done / total));
      text += std::string(static_cast<size_t>(filled), '#') + std::string(static_cast<size_t>(width - filled), '.') + " ";
    }
    text += counts;
    if (tty_) {
      bar += (bar.empty() ? "" : "  ") + text;
    } else if (last_line_[r.stage] != text) {
      last_line_[r.stage] = text;
      say(text);
    }
  }
  if (tty_ && !bar.empty()) {
    out_ << "\r\033[K" << bar << std::flush;
    bar_shown_ = true;
  }
}

}  // namespace cadenza
