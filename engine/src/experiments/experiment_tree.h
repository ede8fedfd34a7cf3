// An experiment's working tree, .cadenza/exps/<name>/ws: where its stages
// run, so that a script's relative paths mean in an experiment what they
// mean in the workspace.
//
// Every file and directory of the workspace is there at the same relative
// path as a symbolic link to the workspace's own (scripts import modules
// nobody declares, read data nobody copies), except what the experiment
// owns: its stages' outs (real paths, written by its own runs) and the
// params files it edits (its own copies, with its values in place). The
// directories above an owned path are real directories whose other entries
// are links. .cadenza is never linked.
//
// Laid out again before each run of the experiment: new workspace files
// appear, links to files that are gone go. Anything else found there (what a
// script wrote outside its declared outs) is left alone.
#pragma once

#include "prepared_workflow.h"

namespace cadenza {

// Lays out the working tree of the experiment `pw` describes (its
// outputs_dir must be set). Throws Error naming the path it cannot make.
void lay_out_experiment_tree(const PreparedWorkflow& pw);

}  // namespace cadenza
