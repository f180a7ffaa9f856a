#include "large_stack.h"

#include <sys/mman.h>
#include <ucontext.h>

#include <cstdio>
#include <cstdlib>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define CHORUS_ASAN_FIBERS 1
#endif

namespace chorus {
namespace {

struct LargeStack {
  void* base = nullptr;  // lowest address, including the guard page
  std::size_t size = 0;
  ~LargeStack() {
    if (base != nullptr) munmap(base, size);
  }
};

thread_local LargeStack t_stack;
thread_local bool t_on_large_stack = false;
thread_local ucontext_t t_caller;
thread_local ucontext_t t_callee;
thread_local const std::function<void()>* t_fn = nullptr;
#ifdef CHORUS_ASAN_FIBERS
thread_local const void* t_caller_bottom = nullptr;
thread_local std::size_t t_caller_size = 0;
#endif

void trampoline() {
#ifdef CHORUS_ASAN_FIBERS
  __sanitizer_finish_switch_fiber(nullptr, &t_caller_bottom, &t_caller_size);
#endif
  (*t_fn)();
#ifdef CHORUS_ASAN_FIBERS
  // This fiber ends: no fake stack to keep (nullptr).
  __sanitizer_start_switch_fiber(nullptr, t_caller_bottom, t_caller_size);
#endif
  swapcontext(&t_callee, &t_caller);
}

bool ensure_stack() {
  if (t_stack.base != nullptr) return true;
  const std::size_t page = 4096;
  void* p = mmap(nullptr, kLargeStackBytes + page, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (p == MAP_FAILED) return false;
  mprotect(p, page, PROT_NONE);  // guard page: an overflow faults instead of corrupting
  t_stack.base = p;
  t_stack.size = kLargeStackBytes + page;
  return true;
}

}  // namespace

void run_on_large_stack(const std::function<void()>& fn) {
  if (t_on_large_stack || !ensure_stack()) {
    fn();
    return;
  }
  t_fn = &fn;
  getcontext(&t_callee);
  t_callee.uc_stack.ss_sp = static_cast<char*>(t_stack.base) + 4096;
  t_callee.uc_stack.ss_size = kLargeStackBytes;
  t_callee.uc_link = nullptr;
  makecontext(&t_callee, trampoline, 0);
  t_on_large_stack = true;
#ifdef CHORUS_ASAN_FIBERS
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(&fake_stack, t_callee.uc_stack.ss_sp, kLargeStackBytes);
#endif
  swapcontext(&t_caller, &t_callee);
#ifdef CHORUS_ASAN_FIBERS
  __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
  t_on_large_stack = false;
  t_fn = nullptr;
}

}  // namespace chorus
