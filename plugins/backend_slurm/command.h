// Runs a SLURM client command (sbatch, squeue, scontrol, scancel) from an
// argv — never through a shell — and captures what it printed.
#pragma once

#include <string>
#include <vector>

namespace cadenza::backend_slurm {

struct CommandResult {
  int exit_code = -1;
  std::string out, err;
  bool ok() const { return exit_code == 0; }
};

// argv[0] is looked up on PATH. Throws sdk::PluginError if it cannot start
// (naming the command and that SLURM's client tools must be installed).
CommandResult run_command(const std::vector<std::string>& argv);

}  // namespace cadenza::backend_slurm
