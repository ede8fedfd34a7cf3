#include "stage_graph.h"

#include <boost/graph/strong_components.hpp>
#include <boost/graph/topological_sort.hpp>
#include <algorithm>
#include <deque>
#include <filesystem>
#include <map>
#include <set>

#include "error.h"
#include "fs_util.h"

namespace cadenza {

namespace {

bool overlaps(const std::string& a, const std::string& b) {
  return path_within(a, b) || path_within(b, a);
}

std::string dot_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

StageGraph::StageGraph(const Workflow& wf)
    : wf_(wf), graph_(wf.stages.size()), upstream_(wf.stages.size()),
      downstream_(wf.stages.size()) {
  check_outs_disjoint();
  add_edges();
  check_acyclic();
  // Topological order; boost returns it reversed. Among ready stages, keep
  // file order so that output is stable and unsurprising.
  std::vector<size_t> indegree(wf_.stages.size());
  for (size_t i = 0; i < wf_.stages.size(); ++i) indegree[i] = upstream_[i].size();
  std::set<size_t> ready;
  for (size_t i = 0; i < indegree.size(); ++i)
    if (indegree[i] == 0) ready.insert(i);
  while (!ready.empty()) {
    size_t next = *ready.begin();
    ready.erase(ready.begin());
    order_.push_back(next);
    for (size_t d : downstream_[next])
      if (--indegree[d] == 0) ready.insert(d);
  }
}

namespace {

// A path with '/' sorting before every other character: then a path's
// descendants ("a/b") follow it directly in sorted order, before siblings
// like "a-b", so overlapping paths meet as neighbours.
std::string tree_order(const std::string& path) {
  std::string key = path;
  for (char& c : key)
    if (c == '/') c = '\x01';
  return key;
}

}  // namespace

// Sorting every out once makes this O(n log n): two outs overlap only if
// some pair of neighbours does (10,000 stages used to take seconds).
void StageGraph::check_outs_disjoint() const {
  struct Out {
    std::string key;
    size_t stage;
    const PathDecl* decl;
  };
  std::vector<Out> outs;
  for (size_t i = 0; i < wf_.stages.size(); ++i) {
    const auto& a = wf_.stages[i];
    for (const auto& [an, ao] : a.outs) {
      outs.push_back({tree_order(ao.path), i, &ao});
      for (const auto& [dn, dep] : a.deps)
        if (overlaps(dep.path, ao.path))
          throw Error(dep.pos.str() + ": stage '" + a.name + "' depends on '" + dep.path +
                      "', which overlaps its own output '" + ao.path + "' (" + ao.pos.str() +
                      "); a stage cannot read what it writes");
    }
  }
  std::sort(outs.begin(), outs.end(), [](const Out& x, const Out& y) { return x.key < y.key; });
  for (size_t k = 0; k + 1 < outs.size(); ++k) {
    const Out* a = &outs[k];
    const Out* b = &outs[k + 1];
    if (!overlaps(a->decl->path, b->decl->path)) continue;
    if (b->stage < a->stage) std::swap(a, b);  // name the later stage as the one that clashes
    throw Error(b->decl->pos.str() + ": stage '" + wf_.stages[b->stage].name + "' writes '" + b->decl->path +
                "', which overlaps output '" + a->decl->path + "' of stage '" + wf_.stages[a->stage].name +
                "' (" + a->decl->pos.str() + "); every output path must belong to one stage");
  }
}

void StageGraph::add_edges() {
  // Outs by path in tree order: a dep's producers are the out at its own
  // path, outs at its parent directories, and outs below it (a range).
  std::map<std::string, size_t> producer;
  for (size_t i = 0; i < wf_.stages.size(); ++i)
    for (const auto& [n, out] : wf_.stages[i].outs) producer[tree_order(out.path)] = i;
  for (size_t b = 0; b < wf_.stages.size(); ++b) {
    std::set<size_t> ups;
    for (const auto& [n, dep] : wf_.stages[b].deps) {
      const std::string key = tree_order(dep.path);
      bool produced = false;
      const auto add = [&](std::map<std::string, size_t>::const_iterator it) {
        ups.insert(it->second);
        produced = true;
      };
      for (size_t cut = key.size(); cut > 0;) {  // the dep's own path, then each parent
        if (auto it = producer.find(key.substr(0, cut)); it != producer.end()) add(it);
        const size_t slash = key.rfind('\x01', cut - 1);
        cut = slash == std::string::npos ? 0 : slash;
      }
      const std::string below = key + '\x01';
      for (auto it = producer.lower_bound(below); it != producer.end() && it->first.compare(0, below.size(), below) == 0; ++it)
        add(it);
      std::error_code ec;
      if (!produced && !std::filesystem::exists(wf_.workspace + "/" + dep.path, ec))
        throw Error(dep.pos.str() + ": stage '" + wf_.stages[b].name + "' depends on '" +
                    dep.path + "', which no stage produces and which does not exist in " +
                    wf_.workspace + "; create it, fix the path, or add the stage that writes it");
    }
    for (size_t a : ups) {
      boost::add_edge(a, b, graph_);
      upstream_[b].push_back(a);
      downstream_[a].push_back(b);
    }
  }
}

void StageGraph::check_acyclic() const {
  std::vector<int> component(wf_.stages.size());
  const int count = boost::strong_components(
      graph_, boost::make_iterator_property_map(component.begin(),
                                                boost::get(boost::vertex_index, graph_)));
  std::vector<int> size(count, 0);
  for (int c : component) ++size[c];
  for (size_t start = 0; start < component.size(); ++start) {
    if (size[component[start]] < 2) continue;
    // Walk the component breadth-first from `start` back to itself to name
    // one concrete cycle, in order.
    const int c = component[start];
    std::map<size_t, size_t> parent;
    std::deque<size_t> queue{start};
    size_t last = start;
    bool found = false;
    while (!queue.empty() && !found) {
      size_t v = queue.front();
      queue.pop_front();
      for (size_t w : downstream_[v]) {
        if (component[w] != c) continue;
        if (w == start) {
          last = v;
          found = true;
          break;
        }
        if (parent.emplace(w, v).second) queue.push_back(w);
      }
    }
    std::vector<size_t> cycle{last};
    while (cycle.back() != start) cycle.push_back(parent.at(cycle.back()));
    std::string text;
    for (auto it = cycle.rbegin(); it != cycle.rend(); ++it) text += wf_.stages[*it].name + " -> ";
    text += wf_.stages[start].name;
    throw Error(wf_.file + ": the stages form a cycle: " + text +
                " (each reads an output of the one before); break it by changing a dep or out");
  }
}

std::vector<bool> StageGraph::closure_of(size_t stage) const {
  std::vector<bool> in(wf_.stages.size(), false);
  std::vector<size_t> todo{stage};
  while (!todo.empty()) {
    size_t v = todo.back();
    todo.pop_back();
    if (in[v]) continue;
    in[v] = true;
    for (size_t u : upstream_[v]) todo.push_back(u);
  }
  return in;
}

size_t StageGraph::index_of(const std::string& name) const {
  std::string known;
  for (size_t i = 0; i < wf_.stages.size(); ++i) {
    if (wf_.stages[i].name == name) return i;
    known += (known.empty() ? "" : ", ") + wf_.stages[i].name;
  }
  throw Error("no stage named '" + name + "' in " + wf_.file + " (stages: " + known + ")");
}

std::string StageGraph::edge_label(size_t from, size_t to) const {
  std::string label;
  for (const auto& [n, dep] : wf_.stages[to].deps)
    for (const auto& [m, out] : wf_.stages[from].outs)
      if (overlaps(dep.path, out.path)) label += (label.empty() ? "" : ", ") + dep.path;
  return label;
}

std::string StageGraph::to_text() const {
  std::string out;
  for (size_t i : order_) {
    const auto& s = wf_.stages[i];
    out += s.name + "  [" + s.plugin + "]";
    if (!upstream_[i].empty()) {
      out += "  <- ";
      for (size_t k = 0; k < upstream_[i].size(); ++k)
        out += (k ? ", " : "") + wf_.stages[upstream_[i][k]].name;
    }
    out += "\n";
  }
  return out;
}

std::string StageGraph::to_dot() const {
  std::string out = "digraph " + dot_quote(wf_.name) + " {\n  rankdir=LR;\n  node [shape=box];\n";
  for (size_t i : order_)
    out += "  " + dot_quote(wf_.stages[i].name) + " [label=" +
           dot_quote(wf_.stages[i].name + "\n" + wf_.stages[i].plugin) + "];\n";
  for (size_t b : order_)
    for (size_t a : upstream_[b])
      out += "  " + dot_quote(wf_.stages[a].name) + " -> " + dot_quote(wf_.stages[b].name) +
             " [label=" + dot_quote(edge_label(a, b)) + "];\n";
  return out + "}\n";
}

}  // namespace cadenza
