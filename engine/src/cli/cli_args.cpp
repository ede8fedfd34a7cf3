#include "cli_args.h"

#include "error.h"

namespace cadenza {

namespace {

std::map<std::string, std::string> alias_table(const std::vector<std::string>& specs) {
  std::map<std::string, std::string> out;
  for (const auto& spec : specs) {
    const std::string canonical = spec.substr(0, spec.find('|'));
    size_t start = 0;
    while (start <= spec.size()) {
      size_t end = spec.find('|', start);
      if (end == std::string::npos) end = spec.size();
      out[spec.substr(start, end - start)] = canonical;
      start = end + 1;
    }
  }
  return out;
}

}  // namespace

CliArgs::CliArgs(std::string command, const std::vector<std::string>& args,
                 const std::vector<std::string>& with_value,
                 const std::vector<std::string>& flags)
    : command_(std::move(command)) {
  const auto valued = alias_table(with_value);
  const auto plain = alias_table(flags);
  const std::string help = " (see `cadenza " + command_ + " --help`)";
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      positionals_.insert(positionals_.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (a.size() < 2 || a[0] != '-') {
      positionals_.push_back(a);
      continue;
    }
    std::string name = a, value;
    bool inline_value = false;
    if (auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      inline_value = true;
    } else if (a.rfind("--", 0) != 0 && a.size() > 2 && valued.count(a.substr(0, 2))) {
      name = a.substr(0, 2);  // -j2
      value = a.substr(2);
      inline_value = true;
    }
    if (auto it = plain.find(name); it != plain.end() && !inline_value) {
      values_[it->second].push_back("");
    } else if (auto it = valued.find(name); it != valued.end()) {
      if (!inline_value) {
        if (i + 1 >= args.size()) throw Error("cadenza " + command_ + ": " + name + " needs a value" + help);
        value = args[++i];
      }
      values_[it->second].push_back(value);
    } else {
      throw Error("cadenza " + command_ + ": unknown option '" + a + "'" + help);
    }
  }
}

std::string CliArgs::get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second.back();
}

const std::vector<std::string>& CliArgs::all(const std::string& name) const {
  static const std::vector<std::string> none;
  auto it = values_.find(name);
  return it == values_.end() ? none : it->second;
}

int CliArgs::get_int(const std::string& name, int fallback, int min) const {
  if (!has(name)) return fallback;
  const std::string v = get(name);
  size_t used = 0;
  int n = 0;
  try {
    n = std::stoi(v, &used);
  } catch (...) {
    used = 0;
  }
  if (used == 0 || used != v.size() || n < min)
    throw Error("cadenza " + command_ + ": " + name + " must be an integer >= " +
                std::to_string(min) + " (got '" + v + "')");
  return n;
}

void CliArgs::expect_at_most(size_t max, const std::string& usage) const {
  if (positionals_.size() > max)
    throw Error("cadenza " + command_ + ": unexpected argument '" + positionals_[max] +
                "'\nusage: " + usage);
}

}  // namespace cadenza
