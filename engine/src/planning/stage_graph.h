// The workflow's stages as a Boost.Graph DAG.
//
// Stage B depends on stage A when one of B's deps is, lies inside, or
// contains one of A's outs (paths are compared as normalised workspace paths,
// so "data/train" inside "data" counts). Building the graph is also where
// the workflow's structure is checked:
//   - a cycle is an error that names the stages around it, in order;
//   - a dep that no stage produces and that does not exist on disk is an
//     error naming the stage and the path;
//   - two stages whose outs overlap (the same path, or one inside the
//     other) are an error naming both.
#pragma once

#include <boost/graph/adjacency_list.hpp>
#include <string>
#include <vector>

#include "workflow.h"

namespace cadenza {

class StageGraph {
 public:
  // Throws Error on any of the problems above. `wf` must outlive the graph.
  explicit StageGraph(const Workflow& wf);

  // Stage indices (into wf.stages) such that every stage comes after the
  // stages it depends on; ties keep file order.
  const std::vector<size_t>& order() const { return order_; }
  const std::vector<size_t>& upstream(size_t stage) const { return upstream_[stage]; }
  const std::vector<size_t>& downstream(size_t stage) const { return downstream_[stage]; }

  // The stage and everything it needs, transitively.
  std::vector<bool> closure_of(size_t stage) const;

  // Index of a stage by name; throws Error listing the known stages.
  size_t index_of(const std::string& name) const;

  // "preprocess\ntrain <- preprocess\n..." in order.
  std::string to_text() const;
  // Graphviz DOT; edges labelled with the paths that link the stages.
  std::string to_dot() const;

 private:
  using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS>;

  void add_edges();
  void check_outs_disjoint() const;
  void check_acyclic() const;
  std::string edge_label(size_t from, size_t to) const;

  const Workflow& wf_;
  Graph graph_;
  std::vector<size_t> order_;
  std::vector<std::vector<size_t>> upstream_, downstream_;
};

}  // namespace cadenza
