// Deliberate errors for the self-check of scripts/test-asan.mjs: built with
// the same sanitizers as the addon and loaded into node under the same
// preload and options, it must leave one UBSan and one ASan report in the
// logs, or the run's "0 reports" would prove nothing. Not part of the addon.
#include <climits>
#include <cstdlib>

namespace {

int AddMax(int x) { return x + INT_MAX; }

// Runs when node dlopens the file, before node finds it is no addon.
__attribute__((constructor)) void Probe() {
  volatile int one = 1;
  volatile int sum = AddMax(one);  // UBSan: signed integer overflow; reported, then goes on.
  (void)sum;
  // malloc, not new: a bare 8-byte block, read one past its end.
  char* block = static_cast<char*>(std::malloc(8));
  volatile char past = block[8 * one];  // ASan: heap-buffer-overflow; reported, then aborts.
  (void)past;
  std::free(block);
}

}  // namespace
