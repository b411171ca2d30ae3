// SPDX-License-Identifier: Apache-2.0
// api_fuzzer.cpp - libFuzzer harness: random sequences of emucxl calls,
// good and bad, checked step by step against a model of what must be true.
//
// After every step: emucxl_stats(node) equals the sum of the live blocks'
// sizes on that node, and the blocks touched still hold the bytes written to
// them. Bad calls (unknown addresses, wrong sizes, double frees, bad nodes,
// out-of-bounds ranges) must fail with the documented errno and change
// nothing. A crash, a sanitizer report or a broken invariant is a finding.
//
//   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
//         -DEMUCXL_FUZZ=ON -DEMUCXL_SANITIZE=address,undefined -DEMUCXL_BUILD_APPS=OFF
//   cmake --build build-fuzz --target emucxl_api_fuzzer
//   build-fuzz/tests/emucxl_api_fuzzer -max_total_time=3600   # the long run
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "emucxl/emucxl.h"

namespace {

struct Live {
	unsigned char *p;
	std::size_t size;
	int node;
	unsigned char seed;  // byte i holds (seed + i) & 0xff
};

// Reads the fuzzer's bytes as a stream of small integers.
class Input {
public:
	Input(const std::uint8_t *d, std::size_t n) : d_(d), n_(n) {}
	bool empty() const { return i_ >= n_; }
	std::uint8_t byte() { return i_ < n_ ? d_[i_++] : 0; }
	std::uint32_t u32()
	{
		std::uint32_t v = 0;
		for (int k = 0; k < 4; k++)
			v = v << 8 | byte();
		return v;
	}

private:
	const std::uint8_t *d_;
	std::size_t n_;
	std::size_t i_ = 0;
};

[[noreturn]] void broken(const char *what, long a = 0, long b = 0)
{
	std::fprintf(stderr, "invariant broken: %s (%ld, %ld)\n", what, a, b);
	std::abort();
}

void expect(bool ok, const char *what, long a = 0, long b = 0)
{
	if (!ok)
		broken(what, a, b);
}

void fill(Live &l)
{
	for (std::size_t i = 0; i < l.size; i++)
		l.p[i] = static_cast<unsigned char>(l.seed + i);
}

void verify(const Live &l)
{
	// Sampled for big blocks: first, last and a stride through the middle.
	const std::size_t step = l.size > 4096 ? l.size / 512 : 1;
	for (std::size_t i = 0; i < l.size; i += step)
		expect(l.p[i] == static_cast<unsigned char>(l.seed + i), "block contents", static_cast<long>(i));
	expect(l.p[l.size - 1] == static_cast<unsigned char>(l.seed + l.size - 1), "block tail");
}

// Sizes that reach every path: tiny, class edges, spans, large, huge.
std::size_t pick_size(Input &in)
{
	switch (in.byte() % 8) {
	case 0: return in.byte() % 17;                    // includes 0
	case 1: return 1 + in.byte();                     // small classes
	case 2: return 1 + (in.u32() % 4096);
	case 3: return 32768 + (in.byte() % 3) - 1;       // the small/large edge
	case 4: return 1 + (in.u32() % (1 << 20));        // up to 1 MiB
	case 5: return 1 + (in.u32() % (4 << 20));        // up to 4 MiB
	case 6: return SIZE_MAX - in.byte();              // absurd
	default: return 16 * (1 + in.byte() % 8);
	}
}

int pick_node(Input &in)
{
	static const int kNodes[] = {0, 1, 0, 1, 0, 1, -1, 2, INT_MAX, INT_MIN};
	return kNodes[in.byte() % 10];
}

std::size_t model_stats(const std::vector<Live> &live, int node)
{
	std::size_t sum = 0;
	for (const Live &l : live)
		if (l.node == node)
			sum += l.size;
	return sum;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
	setenv("EMUCXL_LOG", "error", 0);  // bad calls are the point; don't log each
	return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	Input in(data, size);
	std::vector<Live> live;
	if (emucxl_init() != 0)
		broken("emucxl_init", errno);
	int depth = 1;  // nested inits

	for (int step = 0; step < 256 && !in.empty(); step++) {
		const std::uint8_t op = in.byte() % 14;
		Live *some = live.empty() ? nullptr : &live[in.byte() % live.size()];
		switch (op) {
		case 0:
		case 1: {  // alloc
			const std::size_t n = pick_size(in);
			const int node = pick_node(in);
			errno = 0;
			auto *p = static_cast<unsigned char *>(emucxl_alloc(n, node));
			const bool valid = n > 0 && (node == 0 || node == 1);
			if (!valid) {
				expect(!p && errno == EINVAL, "alloc of bad args must be EINVAL", errno);
			} else if (!p) {
				expect(errno == ENOMEM, "alloc failure must be ENOMEM", errno);
			} else {
				Live l{p, n, node, in.byte()};
				for (std::size_t i = 0; i < n; i += (n > 4096 ? 4093 : 1))
					expect(p[i] == 0, "alloc not zero-filled", static_cast<long>(i));
				fill(l);
				live.push_back(l);
			}
			break;
		}
		case 2: {  // free, right or wrong
			if (!some)
				break;
			const std::uint8_t how = in.byte() % 4;
			if (how == 0) {  // wrong size
				errno = 0;
				emucxl_free(some->p, some->size + 1);
				expect(errno == EINVAL, "free with a wrong size", errno);
			} else if (how == 1 && some->size > 1) {  // interior pointer
				errno = 0;
				emucxl_free(some->p + 1, 0);
				expect(errno == EINVAL, "free of an interior pointer", errno);
			} else {
				verify(*some);
				unsigned char *p = some->p;
				emucxl_free(p, how == 2 ? 0 : some->size);
				*some = live.back();
				live.pop_back();
				errno = 0;
				emucxl_free(p, 0);  // double free
				expect(errno == EINVAL, "double free", errno);
			}
			break;
		}
		case 3: {  // resize
			if (!some)
				break;
			const std::size_t n = pick_size(in);
			errno = 0;
			auto *q = static_cast<unsigned char *>(emucxl_resize(some->p, n));
			if (!q) {
				expect(errno == EINVAL || errno == ENOMEM, "resize error", errno);
				verify(*some);  // the old block is untouched
				break;
			}
			const std::size_t kept = n < some->size ? n : some->size;
			for (std::size_t i = 0; i < kept; i += (kept > 4096 ? 4093 : 1))
				expect(q[i] == static_cast<unsigned char>(some->seed + i), "resize lost data");
			for (std::size_t i = kept; i < n; i += (n > 4096 ? 4093 : 1))
				expect(q[i] == 0, "resize growth not zeroed", static_cast<long>(i));
			some->p = q;
			some->size = n;
			fill(*some);
			break;
		}
		case 4: {  // migrate
			if (!some)
				break;
			const int node = pick_node(in);
			errno = 0;
			auto *q = static_cast<unsigned char *>(emucxl_migrate(some->p, node));
			if (!q) {
				expect(errno == EINVAL || errno == ENOMEM, "migrate error", errno);
				verify(*some);
				break;
			}
			some->p = q;
			some->node = node;
			verify(*some);
			break;
		}
		case 5: {  // queries with interior pointers
			if (!some)
				break;
			const std::size_t off = in.u32() % some->size;
			expect(emucxl_get_size(some->p + off) == some->size, "get_size");
			expect(emucxl_get_numa_node(some->p + off) == some->node, "get_numa_node");
			expect(emucxl_is_local(some->p + off) == (some->node == 0), "is_local");
			break;
		}
		case 6:
		case 7: {  // read / write with random offsets and lengths
			if (!some)
				break;
			const int off = static_cast<int>(in.u32() % (some->size + 64)) - 32;
			const std::size_t n = in.u32() % 256;
			unsigned char buf[256];
			const bool inside = off >= 0 && static_cast<std::size_t>(off) + n <= some->size;
			errno = 0;
			bool ok;
			if (op == 6) {
				ok = emucxl_read(some->p, off, buf, n);
				if (ok && inside)
					for (std::size_t i = 0; i < n; i++)
						expect(buf[i] == static_cast<unsigned char>(some->seed + off + i), "read");
			} else {
				for (std::size_t i = 0; i < n; i++)
					buf[i] = static_cast<unsigned char>(some->seed + off + i);  // same bytes
				ok = emucxl_write(buf, off, some->p, n);
			}
			expect(ok == (inside || n == 0), "read/write bounds", off, static_cast<long>(n));
			if (!ok)
				expect(errno == ERANGE, "read/write error must be ERANGE", errno);
			break;
		}
		case 8: {  // memset / memcpy / memmove past the end
			if (!some)
				break;
			const std::size_t n = some->size + 1 + in.byte();
			errno = 0;
			expect(emucxl_memset(some->p, 0, n) == nullptr && errno == ERANGE, "memset bounds");
			expect(emucxl_memmove(some->p, some->p, n) == nullptr, "memmove bounds");
			verify(*some);
			break;
		}
		case 9: {  // addresses that are not allocations
			int on_stack = 0;
			void *bogus[] = {nullptr, &on_stack, reinterpret_cast<void *>(UINTPTR_MAX - 7),
					 reinterpret_cast<void *>(static_cast<std::uintptr_t>(in.u32()) << 12)};
			void *p = bogus[in.byte() % 4];
			bool known = false;
			for (const Live &l : live)
				known |= p >= l.p && p < l.p + l.size;
			if (known)
				break;
			errno = 0;
			emucxl_free(p, 16);
			expect(errno == EINVAL, "free of a non-allocation", errno);
			expect(emucxl_get_size(p) == 0, "get_size of a non-allocation");
			break;
		}
		case 10:  // nested init / exit
			if (in.byte() & 1) {
				expect(emucxl_init() == 0, "nested init");
				depth++;
			} else if (depth > 1) {
				emucxl_exit();
				depth--;
			}
			break;
		case 11:  // the last exit frees everything; start again
			while (depth > 0) {
				emucxl_exit();
				depth--;
			}
			errno = 0;
			expect(emucxl_alloc(16, 0) == nullptr && errno == ENODEV, "alloc after exit");
			live.clear();
			expect(emucxl_init() == 0, "init after exit");
			depth = 1;
			break;
		case 12: {  // stats of bad nodes
			static const int kBad[] = {-1, 2, 3, INT_MAX, INT_MIN};
			errno = 0;
			expect(emucxl_stats(kBad[in.byte() % 5]) == 0 && errno == EINVAL, "stats bad node");
			break;
		}
		default:
			for (const Live &l : live)
				verify(l);
			break;
		}
		for (int node = 0; node < 2; node++)
			expect(emucxl_stats(node) == model_stats(live, node), "stats == sum of live sizes",
			       static_cast<long>(emucxl_stats(node)), static_cast<long>(model_stats(live, node)));
	}

	for (const Live &l : live) {
		verify(l);
		emucxl_free(l.p, l.size);
	}
	expect(emucxl_stats(0) == 0 && emucxl_stats(1) == 0, "stats zero at the end");
	while (depth-- > 0)
		emucxl_exit();
	return 0;
}
