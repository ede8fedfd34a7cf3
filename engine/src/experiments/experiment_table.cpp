#include "experiment_table.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <set>
#include <sstream>
#include <string_view>
#include <unordered_map>

#include "condition.h"
#include "error.h"

namespace cadenza {

using nlohmann::json;

namespace {

std::optional<json> cell(const ExperimentRecord& r, const std::string& column) {
  if (column == "name") return json(r.name);
  if (column == "status") return json(r.status);
  if (column == "duration_s") return r.finished > 0 ? json(std::round(r.duration_s() * 10) / 10) : json();
  if (r.overrides.contains(column)) return r.overrides[column];
  if (r.metrics.contains(column)) return r.metrics[column].value("last", json());
  return std::nullopt;
}

std::string text(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", v.get<double>());
    return buf;
  }
  return v.dump();
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

// Row index of the best value in a metric column, or -1.
long best_row(const ExperimentTable& t, size_t col, bool higher) {
  long best = -1;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const json& v = t.rows[r][col];
    if (!v.is_number()) continue;
    if (best < 0 || (higher ? v.get<double>() > t.rows[best][col].get<double>()
                            : v.get<double>() < t.rows[best][col].get<double>()))
      best = static_cast<long>(r);
  }
  return best;
}

}  // namespace

ExperimentTable build_table(const std::vector<ExperimentRecord>& experiments, const TableOptions& options) {
  ExperimentTable t;
  t.maximize = options.maximize;
  std::vector<std::string> params;
  std::set<std::string> seen;
  for (const auto& r : experiments)
    for (const auto& [k, v] : r.overrides.items())
      if (seen.insert(k).second) params.push_back(k);
  t.metric_columns = options.metrics;
  if (t.metric_columns.empty()) {
    std::set<std::string> tags;
    for (const auto& r : experiments)
      for (const auto& [k, v] : r.metrics.items()) tags.insert(k);
    t.metric_columns.assign(tags.begin(), tags.end());
  }
  t.columns = {"name", "status", "duration_s"};
  t.columns.insert(t.columns.end(), params.begin(), params.end());
  t.columns.insert(t.columns.end(), t.metric_columns.begin(), t.metric_columns.end());

  std::optional<Condition> where;
  if (!options.where.empty()) where = Condition::parse(options.where, "--where");
  std::vector<const ExperimentRecord*> kept;
  for (const auto& r : experiments)
    if (!where || where->holds([&](const std::string& c) { return cell(r, c); })) kept.push_back(&r);
  if (!options.sort_by.empty()) {
    const bool desc = options.sort_by[0] == '-';
    const std::string col = desc ? options.sort_by.substr(1) : options.sort_by;
    if (std::find(t.columns.begin(), t.columns.end(), col) == t.columns.end()) {
      std::string known;
      for (const auto& c : t.columns) known += (known.empty() ? "" : ", ") + c;
      throw Error("--sort-by: no column '" + col + "' (columns: " + known + ")");
    }
    std::stable_sort(kept.begin(), kept.end(), [&](const ExperimentRecord* a, const ExperimentRecord* b) {
      const json x = cell(*a, col).value_or(json()), y = cell(*b, col).value_or(json());
      if (x.is_null() != y.is_null()) return y.is_null();  // missing values last
      return desc ? y < x : x < y;
    });
  }
  for (const auto* r : kept) {
    std::vector<json> row;
    for (const auto& c : t.columns) row.push_back(cell(*r, c).value_or(json()));
    t.rows.push_back(std::move(row));
  }
  return t;
}

namespace {

// Columns are padded to what a terminal shows: UTF-8 characters, not bytes
// ("é" is one column; wide CJK characters count as one too).
size_t display_width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

void print_table(const ExperimentTable& t, std::ostream& out) {
  std::vector<std::vector<std::string>> cells(t.rows.size(), std::vector<std::string>(t.columns.size()));
  for (size_t r = 0; r < t.rows.size(); ++r)
    for (size_t c = 0; c < t.columns.size(); ++c) cells[r][c] = text(t.rows[r][c]);
  const size_t first_metric = t.columns.size() - t.metric_columns.size();
  for (size_t c = first_metric; c < t.columns.size(); ++c) {
    const bool higher = std::count(t.maximize.begin(), t.maximize.end(), t.columns[c]) > 0;
    if (long b = best_row(t, c, higher); b >= 0) cells[b][c] += "*";
  }
  std::vector<size_t> width(t.columns.size());
  for (size_t c = 0; c < t.columns.size(); ++c) {
    width[c] = display_width(t.columns[c]);
    for (const auto& row : cells) width[c] = std::max(width[c], display_width(row[c]));
  }
  std::string text;
  auto line = [&](const std::vector<std::string>& v) {
    for (size_t c = 0; c < v.size(); ++c) {
      if (c) text.append(2, ' ');
      text += v[c];
      if (c + 1 < v.size()) text.append(width[c] - display_width(v[c]), ' ');
    }
    text += '\n';
  };
  line(t.columns);
  for (const auto& row : cells) line(row);
  out << text;
  if (!t.metric_columns.empty()) out << "(* best of its column: lowest, or highest for [experiments] maximize)\n";
}

void print_csv(const ExperimentTable& t, std::ostream& out) {
  for (size_t c = 0; c < t.columns.size(); ++c) out << (c ? "," : "") << csv_field(t.columns[c]);
  out << "\n";
  for (const auto& row : t.rows) {
    for (size_t c = 0; c < row.size(); ++c)
      out << (c ? "," : "") << csv_field(row[c].is_null() ? "" : row[c].is_string() ? row[c].get<std::string>() : row[c].dump());
    out << "\n";
  }
}

void print_json(const std::vector<ExperimentRecord>& experiments, const ExperimentTable& t, std::ostream& out) {
  std::unordered_map<std::string_view, const ExperimentRecord*> by_name;
  for (const auto& r : experiments) by_name[r.name] = &r;
  // One experiment per line, written piece by piece: thousands of rows
  // without building a second document.
  std::string text = "[";
  for (size_t k = 0; k < t.rows.size(); ++k) {
    const ExperimentRecord& r = *by_name.at(t.rows[k][0].get_ref<const std::string&>());
    text += k ? ",\n " : "\n ";
    text += "{\"name\":" + json(r.name).dump() + ",\"status\":" + json(r.status).dump() +
            ",\"duration_s\":" + t.rows[k][2].dump() + ",\"run_id\":" + json(r.run_id).dump() +
            ",\"params\":" + r.overrides.dump() + ",\"metrics\":" + r.metrics.dump() + "}";
  }
  out << text << (t.rows.empty() ? "]\n" : "\n]\n");
}

}  // namespace cadenza
