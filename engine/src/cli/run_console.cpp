#include "run_console.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "fs_util.h"

namespace cadenza {

namespace {

// As many segments as fit in `width` columns, then "+N more"; one segment
// alone is cut. Stage names and units are ASCII in practice; UTF-8
// characters count as one column each.
std::string fit(const std::vector<std::string>& segments, size_t width) {
  const auto columns = [](const std::string& s) {
    return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
  };
  std::string bar;
  for (size_t i = 0; i < segments.size(); ++i) {
    const std::string next = (bar.empty() ? "" : "  ") + segments[i];
    const std::string more = i + 1 < segments.size() ? "  +" + std::to_string(segments.size() - i - 1) + " more" : "";
    if (columns(bar + next + more) <= width) {
      bar += next;
      continue;
    }
    const std::string rest = std::string(bar.empty() ? "" : "  ") + "+" + std::to_string(segments.size() - i) + " more";
    if (!bar.empty() && columns(bar + rest) <= width) return bar + rest;
    if (bar.empty()) {  // not even the first fits: cut it
      std::string cut;
      for (char c : segments[i]) {
        if (columns(cut) + 1 > width && (c & 0xC0) != 0x80) break;
        cut += c;
      }
      return cut;
    }
    return bar;
  }
  return bar;
}

}  // namespace

int RunConsole::terminal_columns() {
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  const char* env = std::getenv("COLUMNS");
  const int n = env ? std::atoi(env) : 0;
  return n > 0 ? n : 80;
}

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
  std::vector<std::string> segments;
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
      segments.push_back(text);
    } else if (last_line_[r.stage] != text) {
      last_line_[r.stage] = text;
      say(text);
    }
  }
  if (tty_ && !segments.empty()) {
    out_ << "\r\033[K" << fit(segments, static_cast<size_t>(std::max(columns_() - 1, 10))) << std::flush;
    bar_shown_ = true;
  }
}

}  // namespace cadenza
