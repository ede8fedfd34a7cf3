// A tiny argument reader for the CLI's subcommands: flags, options with a
// value (-j 2, -j2, --jobs=2) and positionals, with errors that name the
// command and point at `--help`.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

namespace cadenza {

class CliArgs {
 public:
  // `with_value` lists the options that take a value, `flags` those that do
  // not; each entry may hold aliases separated by '|' ("-j|--jobs"). The
  // first alias is the canonical name used in get()/has().
  CliArgs(std::string command, const std::vector<std::string>& args,
          const std::vector<std::string>& with_value, const std::vector<std::string>& flags);

  bool has(const std::string& name) const { return values_.count(name) > 0; }
  // The last value given, or `fallback`.
  std::string get(const std::string& name, const std::string& fallback = "") const;
  const std::vector<std::string>& all(const std::string& name) const;
  int get_int(const std::string& name, int fallback, int min) const;
  const std::vector<std::string>& positionals() const { return positionals_; }
  // Throws Error if more than `max` positionals were given.
  void expect_at_most(size_t max, const std::string& usage) const;

 private:
  std::string command_;
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positionals_;
};

}  // namespace cadenza
