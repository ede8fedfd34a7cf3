// Cadenza SDK — memory sizes and durations as users write them, parsed one
// way by the engine and by every backend (header-only, no dependencies).
//
//   sizes:      "512M", "16G", "1.5G", "2GB", "2GiB", "64k", "1024" (bytes)
//               K/M/G/T are powers of 1024, upper or lower case
//   durations:  "90", "90s", "30m", "2h", "1d", "1.5h", "MM:SS", "HH:MM:SS"
//
// Both return nullopt for anything else: negative, not a number, infinite,
// NaN, trailing junk, or a value that does not fit (over 2^62), so that a
// typo never silently means "no limit".
#pragma once

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cadenza::sdk {

namespace units_detail {

constexpr double kMax = 4611686018427387904.0;  // 2^62: room to double it for retries

// A finite, non-negative decimal number at the start of `text`; `used` is its length.
inline std::optional<double> leading_number(std::string_view text, size_t* used) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value,
                                         std::chars_format::fixed);
  if (ec != std::errc() || end == text.data() || !std::isfinite(value) || value < 0) return std::nullopt;
  *used = static_cast<size_t>(end - text.data());
  return value;
}

}  // namespace units_detail

inline std::optional<uint64_t> parse_bytes(std::string_view text) {
  size_t used = 0;
  const auto number = units_detail::leading_number(text, &used);
  if (!number) return std::nullopt;
  std::string unit;
  for (char c : text.substr(used)) unit += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (unit.size() >= 2 && unit.substr(unit.size() - 2) == "IB") unit.resize(unit.size() - 2);
  else if (unit.size() >= 2 && unit.back() == 'B') unit.pop_back();
  double scale = 1;
  if (unit == "K") scale = 1024.0;
  else if (unit == "M") scale = 1048576.0;
  else if (unit == "G") scale = 1073741824.0;
  else if (unit == "T") scale = 1099511627776.0;
  else if (!unit.empty() && unit != "B") return std::nullopt;
  const double bytes = *number * scale;
  if (bytes > units_detail::kMax) return std::nullopt;
  return static_cast<uint64_t>(std::ceil(bytes));
}

// A duration in seconds, fractions kept ("0.5s", "1.5h").
inline std::optional<double> parse_duration(std::string_view text) {
  if (text.find(':') != std::string_view::npos) {  // [[HH:]MM:]SS, whole numbers
    int64_t total = 0;
    int parts = 0;
    for (size_t start = 0; start <= text.size(); ++parts) {
      size_t end = text.find(':', start);
      if (end == std::string_view::npos) end = text.size();
      int64_t n = 0;
      const auto [p, ec] = std::from_chars(text.data() + start, text.data() + end, n);
      if (ec != std::errc() || p != text.data() + end || n < 0 || parts >= 3) return std::nullopt;
      if (total > static_cast<int64_t>(units_detail::kMax / 60)) return std::nullopt;
      total = total * 60 + n;
      start = end + 1;
    }
    return static_cast<double>(total);
  }
  size_t used = 0;
  const auto number = units_detail::leading_number(text, &used);
  if (!number) return std::nullopt;
  const std::string_view unit = text.substr(used);
  double scale = 0;
  if (unit.empty() || unit == "s") scale = 1;
  else if (unit == "m") scale = 60;
  else if (unit == "h") scale = 3600;
  else if (unit == "d") scale = 86400;
  else return std::nullopt;
  const double seconds = *number * scale;
  if (seconds > units_detail::kMax) return std::nullopt;
  return seconds;
}

// A duration in whole seconds, rounded up (a time limit never shrinks).
inline std::optional<int64_t> parse_seconds(std::string_view text) {
  const auto seconds = parse_duration(text);
  if (!seconds) return std::nullopt;
  return static_cast<int64_t>(std::ceil(*seconds));
}

}  // namespace cadenza::sdk
