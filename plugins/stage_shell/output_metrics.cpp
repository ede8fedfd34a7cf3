#include "output_metrics.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

namespace cadenza::script {

struct OutputPattern::Compiled {
  pcre2_code* code = nullptr;
  std::vector<std::pair<std::string, int>> groups;  // name, number
  ~Compiled() { pcre2_code_free(code); }
};

OutputPattern::OutputPattern(const std::string& pattern) : compiled_(std::make_unique<Compiled>()) {
  int error = 0;
  PCRE2_SIZE at = 0;
  compiled_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_UTF,
                                  &error, &at, nullptr);
  if (!compiled_->code) {
    PCRE2_UCHAR text[256];
    pcre2_get_error_message(error, text, sizeof text);
    throw std::invalid_argument(std::string(reinterpret_cast<char*>(text)) + " at offset " +
                                std::to_string(at) + " of '" + pattern + "'");
  }
  uint32_t count = 0, entry_size = 0;
  PCRE2_SPTR table = nullptr;
  pcre2_pattern_info(compiled_->code, PCRE2_INFO_NAMECOUNT, &count);
  pcre2_pattern_info(compiled_->code, PCRE2_INFO_NAMEENTRYSIZE, &entry_size);
  pcre2_pattern_info(compiled_->code, PCRE2_INFO_NAMETABLE, &table);
  for (uint32_t i = 0; i < count; ++i) {
    const PCRE2_SPTR entry = table + i * entry_size;  // 2-byte group number, then the name
    compiled_->groups.emplace_back(reinterpret_cast<const char*>(entry + 2), (entry[0] << 8) | entry[1]);
  }
  const bool names_a_metric = std::any_of(compiled_->groups.begin(), compiled_->groups.end(),
                                          [](const auto& g) { return g.first != "step"; });
  if (!names_a_metric)
    throw std::invalid_argument("'" + pattern + "' names no metric: give each value a named group, "
                                "e.g. 'loss=(?P<loss>\\S+)'");
}

OutputPattern::~OutputPattern() = default;

std::optional<MetricUpdate> OutputPattern::match(std::string_view line, std::vector<std::string>* bad) const {
  pcre2_match_data* data = pcre2_match_data_create_from_pattern(compiled_->code, nullptr);
  const int rc = pcre2_match(compiled_->code, reinterpret_cast<PCRE2_SPTR>(line.data()), line.size(), 0, 0,
                             data, nullptr);
  if (rc < 0) {
    pcre2_match_data_free(data);
    return std::nullopt;
  }
  const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(data);
  MetricUpdate u;
  for (const auto& [name, number] : compiled_->groups) {
    if (number >= rc || ovector[2 * number] == PCRE2_UNSET) continue;  // an optional group that did not take part
    const std::string text(line.substr(ovector[2 * number], ovector[2 * number + 1] - ovector[2 * number]));
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || (name == "step" && v < 0)) {
      if (bad) bad->push_back(name + " = '" + text + "'");
      continue;
    }
    if (name == "step") u.step = static_cast<int64_t>(v);
    else u.scalars.emplace_back(name, v);
  }
  pcre2_match_data_free(data);
  if (u.scalars.empty()) return std::nullopt;
  return u;
}

void OutputLines::take(const OnUpdate& on_update) {
  std::vector<std::string> bad;
  auto u = pattern_.match(line_, &bad);
  for (const auto& b : bad)
    if (std::find(warned_.begin(), warned_.end(), b.substr(0, b.find(' '))) == warned_.end()) {
      warned_.push_back(b.substr(0, b.find(' ')));
      warn_("metrics_from_output: " + b + " is not a number; left out (here and in later lines)");
    }
  if (u) on_update(std::move(*u));
  line_.clear();
  overlong_ = false;
}

void OutputLines::feed(std::string_view bytes, const OnUpdate& on_update) {
  for (size_t nl; (nl = bytes.find('\n')) != std::string_view::npos; bytes.remove_prefix(nl + 1)) {
    if (!overlong_) line_.append(bytes.substr(0, std::min(nl, MetricsFileFollower::kMaxLineBytes - line_.size())));
    take(on_update);
  }
  const size_t room = MetricsFileFollower::kMaxLineBytes - line_.size();
  if (bytes.size() > room) overlong_ = true;
  line_.append(bytes.substr(0, std::min(room, bytes.size())));
}

void OutputLines::finish(const OnUpdate& on_update) {
  if (!line_.empty()) take(on_update);
}

}  // namespace cadenza::script
