// Hands memory freed by a closed session back to the system.
#pragma once

namespace tfserve {

// Closing a session frees its weights and graph into glibc's malloc arenas,
// where they stay mapped: glibc returns only the top of the main arena on its
// own. Sessions load on many threads (one arena each, up to 8 per core), so
// after concurrent loads and unloads the freed pages sit in several arenas,
// interleaved with live chunks, and RSS creeps up round after round although
// nothing is leaked. malloc_trim(0) releases the free pages of every arena.
// It walks each arena under its lock (milliseconds for hundreds of MB): call
// it after closing a session, which is rare, never per request, and never on
// a JS or serving thread.
void ReturnFreedMemory();

}  // namespace tfserve
