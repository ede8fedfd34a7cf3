#include "submit_batch.h"

#include <map>

#include "error.h"

namespace cadenza {

void SubmitBatch::add(const std::string& backend, sdk::JobRequest request, Done done) {
  entries_.push_back({backend, std::move(request), std::move(done)});
}

void SubmitBatch::flush(BackendPool& pool) {
  std::vector<Entry> entries = std::move(entries_);
  entries_.clear();
  // Variants of one stage (one job name) together: an array shares its name.
  std::map<std::pair<std::string, std::string>, std::vector<size_t>> groups;
  for (size_t k = 0; k < entries.size(); ++k) groups[{entries[k].backend, entries[k].request.name}].push_back(k);
  std::vector<std::pair<sdk::JobHandle, std::string>> results(entries.size());
  for (const auto& [group, indices] : groups) {
    const std::string& backend = group.first;
    std::vector<sdk::JobRequest> requests;
    for (size_t k : indices) requests.push_back(entries[k].request);
    try {
      const auto handles = pool.submit_many(backend, requests);
      for (size_t n = 0; n < indices.size(); ++n) results[indices[n]].first = handles[n];
    } catch (const Error& e) {
      for (size_t k : indices) results[k].second = e.what();
    }
  }
  for (size_t k = 0; k < entries.size(); ++k) entries[k].done(results[k].first, results[k].second);
}

}  // namespace cadenza
