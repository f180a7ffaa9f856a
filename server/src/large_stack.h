// Running handlers on a roomier stack than CivetWeb's.
//
// Debian's CivetWeb 1.15 is built with USE_STACK_SIZE=102400: every worker thread, and so
// every handler (user code included), has a 100 KiB stack, whatever pthread defaults say.
// run_on_large_stack() switches the calling thread onto a per-thread 8 MiB stack (address
// space reserved on first use, committed only as touched) for the duration of `fn`.
#pragma once

#include <functional>

namespace chorus {

constexpr std::size_t kLargeStackBytes = 8 * 1024 * 1024;

// Runs `fn` on this thread's large stack (directly if already on it). `fn` must not throw.
void run_on_large_stack(const std::function<void()>& fn);

}  // namespace chorus
