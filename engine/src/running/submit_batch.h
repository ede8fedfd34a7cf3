// Submissions gathered from several runs driven together (joint_run.h) and
// sent per backend in one submit_array call, so that a sweep's variants of
// one stage become one SLURM job array rather than one sbatch each.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "backend_pool.h"
#include "cadenza/sdk/backend.h"

namespace cadenza {

class SubmitBatch {
 public:
  // Gets the job's handle, or (handle empty) why it could not be queued.
  using Done = std::function<void(const sdk::JobHandle& handle, const std::string& error)>;

  void add(const std::string& backend, sdk::JobRequest request, Done done);
  // Submits what was added, per backend and job name (the variants of one
  // stage: an array shares its name) in the order added, then calls every
  // `done` (which may add nothing: a retry is planned at the next pass).
  void flush(BackendPool& pool);

 private:
  struct Entry {
    std::string backend;
    sdk::JobRequest request;
    Done done;
  };
  std::vector<Entry> entries_;
};

}  // namespace cadenza
