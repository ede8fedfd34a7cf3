// `cadenza exp show`: experiments as rows, with the params they changed,
// their metrics, status and duration as columns. Built from the index
// alone (experiment_record.h), so it stays fast with many experiments.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "experiment_record.h"

namespace cadenza {

struct TableOptions {
  std::vector<std::string> metrics;   // columns; empty: every metric seen
  std::vector<std::string> maximize;  // metrics where higher is better (the rest: lower)
  std::string where;                  // condition.h
  std::string sort_by;                // a column; "-name" sorts descending
};

struct ExperimentTable {
  std::vector<std::string> columns;   // name, status, duration_s, <overrides...>, <metrics...>
  std::vector<std::vector<nlohmann::json>> rows;
  std::vector<std::string> metric_columns;
  std::vector<std::string> maximize;
};

// Throws Error for a bad --where or an unknown --sort-by column.
ExperimentTable build_table(const std::vector<ExperimentRecord>& experiments, const TableOptions& options);

// Aligned text; the best value of each metric column is marked with '*'.
void print_table(const ExperimentTable& table, std::ostream& out);
void print_csv(const ExperimentTable& table, std::ostream& out);
// [{"name", "status", "duration_s", "run_id", "params": {...}, "metrics": {tag: {last, min, max}}}],
// one experiment per line.
void print_json(const std::vector<ExperimentRecord>& experiments, const ExperimentTable& table, std::ostream& out);

}  // namespace cadenza
