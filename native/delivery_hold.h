// Groups the JS deliveries of one batch. While a DeliveryHold is alive on a
// thread, runs finished there wait in it, and when it ends each env gets its
// runs in one hand-off. Without it, a batch thread handing over 30 results one
// by one woke the JS thread for each: the woken JS thread (higher priority
// than the batch thread, which lowers its own) preempted it, drained the one
// result and slept again, ~35 preemptions per batch.
#pragma once

#include <vector>

namespace tfserve {

class JsRunTask;

class DeliveryHold {
 public:
  DeliveryHold();
  ~DeliveryHold();
  DeliveryHold(const DeliveryHold&) = delete;
  DeliveryHold& operator=(const DeliveryHold&) = delete;

  // The hold active on this thread, or null (then runs are handed over at once).
  static DeliveryHold* Current();
  void Add(JsRunTask* task) { held_.push_back(task); }

 private:
  std::vector<JsRunTask*> held_;
  bool owner_ = false;  // holds nest: only the outermost one hands over
};

}  // namespace tfserve
