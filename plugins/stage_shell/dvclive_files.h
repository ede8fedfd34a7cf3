// Follows the metrics dvclive (3.x) writes while a script runs, so a script
// that logs with dvclive needs no change: under its directory (dvclive/ by
// default), plots/metrics/<name>.tsv gets a "timestamp step <name>" row per
// logged value, and metrics.json the latest values when the script ends.
#pragma once

#include <sys/types.h>

#include <map>
#include <set>
#include <string>

#include "metric_lines.h"

namespace cadenza::script {

class DvcliveFollower {
 public:
  // `dir`: dvclive's directory. Rows already in its files now are an earlier
  // run's and are not reported (a file dvclive starts anew is read from its
  // beginning).
  DvcliveFollower(std::string dir, Warn warn);

  // Reports the rows appended since the last call; with `final`, also the
  // values in metrics.json that no .tsv file reported.
  void poll(const OnUpdate& on_update, bool final = false);

 private:
  struct Tsv {
    ino_t inode = 0;
    uint64_t offset = 0;
    std::string tail;  // the bytes just before offset: if they change, the file was written anew
    std::string partial;
    int step_column = -1, value_column = -1;  // -1: header not read yet
    int64_t line_number = 0;
  };
  void read_tsv(const std::string& path, const std::string& tag, Tsv& tsv, const OnUpdate& on_update);
  void read_summary(const OnUpdate& on_update);

  std::string dir_;
  Warn warn_;
  std::map<std::string, Tsv> files_;  // by path
  std::set<std::string> reported_;   // tags the .tsv files reported
  int64_t last_step_ = 0;
  std::string old_summary_;  // metrics.json's identity at the start: an earlier run's

  int warnings_ = 0;
};

}  // namespace cadenza::script
