#include "exit-tracer/attribution.h"

#include <algorithm>
#include <map>

#include "arch/trace_annotations.h"

namespace nestbed::trace {
namespace {

using arch::trace::AnnotationKind;

// Walks the sim records in file order once.
class Attributor {
 public:
  explicit Attributor(const ExitTrace& trace) : t_(trace) {
    a_.exit_costs.resize(trace.hw_exits.size());
    a_.causes.resize(trace.hw_exits.size());
  }

  Attribution run() {
    for (const ExitTrace::SimRecord& r : t_.sim_order) {
      switch (r.type) {
        case RecordType::HwExit: on_exit(r.index); break;
        case RecordType::HwEntry: on_entry(r.index); break;
        case RecordType::Annotation: on_annotation(t_.annotations.at(r.index), r.index); break;
        default: break;
      }
    }
    sum_costs();
    return std::move(a_);
  }

 private:
  void on_exit(uint32_t i) {
    const HwExit& e = t_.hw_exits.at(i);
    unanswered_exit_ = i;  // an earlier unanswered exit stays untimed
    last_exit_ = i;
    last_exit_of_level_[e.level] = i;
    exits_seen_ = i + 1;
    for (uint32_t le : active_) attach(le, i);
  }

  void on_entry(uint32_t j) {
    const HwEntry& entry = t_.hw_entries.at(j);
    if (unanswered_exit_) {
      HwExitCost& c = a_.exit_costs[*unanswered_exit_];
      c.timed = true;
      c.cycles = entry.cycles - t_.hw_exits[*unanswered_exit_].cycles;
      c.entry = j;
      unanswered_exit_.reset();
    }
    end_logical_exits(entry);
  }

  // A handled logical exit ends when a guest of its handler runs again.
  void end_logical_exits(const HwEntry& entry) {
    auto ended = [&](uint32_t index) {
      LogicalExit& le = a_.logical_exits[index];
      if (!le.done || entry.level <= le.handler_level) return false;
      le.timed = true;
      le.end_cycles = entry.cycles;
      return true;
    };
    active_.erase(std::remove_if(active_.begin(), active_.end(), ended), active_.end());
  }

  void on_annotation(const Annotation& a, uint32_t index) {
    switch (AnnotationKind(a.kind)) {
      case AnnotationKind::LOGICAL_EXIT: begin(a, index); break;
      case AnnotationKind::LOGICAL_EXIT_DONE: done(a); break;
      case AnnotationKind::EXIT_COST: measured(a); break;
      default: break;
    }
  }

  void begin(const Annotation& a, uint32_t index) {
    const uint32_t k = uint32_t(a.args[0]);
    abandon_open(k);
    LogicalExit le;
    le.handler_level = k;
    le.guest_level = uint32_t(a.args[1]);
    le.basic_reason = uint16_t(a.args[2]);
    le.qualification = a.args[3];
    le.annotation = index;
    le.start_exit = start_exit_for(le.guest_level);
    le.start_cycles = le.start_exit ? t_.hw_exits[*le.start_exit].cycles : a.cycles;
    const uint32_t id = uint32_t(a_.logical_exits.size());
    a_.logical_exits.push_back(std::move(le));
    if (auto start = a_.logical_exits[id].start_exit)
      for (uint32_t i = *start; i < exits_seen_; ++i) attach(id, i);
    active_.push_back(id);
    open_of_level_[k] = id;
    latest_of_level_[k] = id;
  }

  // The hardware exit that took `guest_level` out of the CPU.
  std::optional<uint32_t> start_exit_for(uint32_t guest_level) const {
    auto it = last_exit_of_level_.find(guest_level);
    if (it != last_exit_of_level_.end()) return it->second;
    return last_exit_;
  }

  // A logical exit of level k that never saw its DONE before the next one
  // began: it stays in the list, undone and untimed, and owns no more exits.
  void abandon_open(uint32_t k) {
    auto it = open_of_level_.find(k);
    if (it == open_of_level_.end()) return;
    active_.erase(std::remove(active_.begin(), active_.end(), it->second), active_.end());
    open_of_level_.erase(it);
  }

  void done(const Annotation& a) {
    auto it = open_of_level_.find(uint32_t(a.args[0]));
    if (it == open_of_level_.end()) return;
    a_.logical_exits[it->second].done = true;
    open_of_level_.erase(it);
  }

  void measured(const Annotation& a) {
    auto it = latest_of_level_.find(uint32_t(a.args[0]));
    if (it != latest_of_level_.end()) a_.logical_exits[it->second].vmm_cycles = a.args[3];
  }

  void attach(uint32_t le_index, uint32_t exit_index) {
    LogicalExit& le = a_.logical_exits[le_index];
    le.hw_exits.push_back(exit_index);
    std::optional<uint32_t>& cause = a_.causes[exit_index];
    // Ties go to the later one: the exit it handles, not one abandoned before.
    if (!cause || a_.logical_exits[*cause].handler_level <= le.handler_level) cause = le_index;
  }

  void sum_costs() {
    for (LogicalExit& le : a_.logical_exits)
      for (uint32_t i : le.hw_exits)
        if (a_.exit_costs[i].timed) le.hw_exit_cycles += a_.exit_costs[i].cycles;
  }

  const ExitTrace& t_;
  Attribution a_;
  std::optional<uint32_t> unanswered_exit_;  // the last exit, until an entry answers it
  std::optional<uint32_t> last_exit_;
  uint32_t exits_seen_ = 0;
  std::map<uint32_t, uint32_t> last_exit_of_level_;  // level -> hw exit index
  std::map<uint32_t, uint32_t> open_of_level_;       // handler level -> logical exit without its DONE yet
  std::map<uint32_t, uint32_t> latest_of_level_;     // handler level -> its latest logical exit
  std::vector<uint32_t> active_;                     // logical exits still collecting hardware exits
};

}  // namespace

Attribution attribute(const ExitTrace& trace) { return Attributor(trace).run(); }

}  // namespace nestbed::trace
