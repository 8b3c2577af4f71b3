// Integer settings read from the environment (TFSERVE_*), for tuning.
#pragma once

#include <algorithm>
#include <cstdlib>

namespace tfserve {

// The variable's value clamped to [minimum, maximum], or `fallback` when it
// is unset or not a number.
inline int EnvInt(const char* name, int fallback, int minimum, int maximum) {
  const char* text = std::getenv(name);
  if (text == nullptr) return fallback;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (end == text) return fallback;
  return static_cast<int>(std::clamp<long>(value, minimum, maximum));
}

}  // namespace tfserve
