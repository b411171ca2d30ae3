// SPDX-License-Identifier: Apache-2.0
// real.cpp - lookup of the next allocator (real.hpp).
#include "real.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <atomic>

namespace emucxl::preload {

namespace {

constinit RealAllocator g_real{};
// 0 not looked up, 1 a thread is looking it up, 2 ready, 3 not found.
constinit std::atomic<int> g_state{0};

template <class Fn> Fn next(const char *name)
{
	return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

[[noreturn]] void no_allocator()
{
	static const char msg[] =
		"emucxl-preload: no malloc/free/calloc/realloc/memalign after the preload "
		"in the lookup order (dlsym(RTLD_NEXT) found none)\n";
	ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)w;
	_exit(127);
}

}  // namespace

const RealAllocator *real_allocator() noexcept
{
	int s = g_state.load(std::memory_order_acquire);
	if (__builtin_expect(s == 2, 1))
		return &g_real;
	// One thread looks the functions up; a call made meanwhile (by dlsym
	// itself, or by another thread at startup) gets the bootstrap arena.
	if (s != 0 || !g_state.compare_exchange_strong(s, 1, std::memory_order_acq_rel))
		return nullptr;
	RealAllocator r{};
	r.malloc = next<decltype(r.malloc)>("malloc");
	r.free = next<decltype(r.free)>("free");
	r.calloc = next<decltype(r.calloc)>("calloc");
	r.realloc = next<decltype(r.realloc)>("realloc");
	r.memalign = next<decltype(r.memalign)>("memalign");
	r.usable_size = next<decltype(r.usable_size)>("malloc_usable_size");
	if (!r.malloc || !r.free || !r.calloc || !r.realloc || !r.memalign)
		no_allocator();
	g_real = r;
	g_state.store(2, std::memory_order_release);
	return &g_real;
}

}  // namespace emucxl::preload
