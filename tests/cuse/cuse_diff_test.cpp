// SPDX-License-Identifier: Apache-2.0
// cuse_diff_test.cpp - one operation sequence, run on the kernel module's
// /dev/emucxl and on emucxl-cused's /dev/emucxl-cuse, must give identical
// observable results: return values, errno, sizes, handles, nodes, data and
// counters. Each server gets its native data plane (mmap of the device for
// the module, a memfd for the daemon); everything else is the same bytes.
//
// Every step appends one line to a trace; the two traces are compared line
// by line, and printed side by side where they differ. What may differ by
// design (who serves: impl, caps; the mmap offset) is left out.
//
// Needs both devices (EMUCXL_KMOD_DEVICE, default /dev/emucxl;
// EMUCXL_DEVICE, default /dev/emucxl-cuse): in the vm/ guest,
// tests/vm/cuse_differential.sh. Skips when either is absent.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "abi_util.hpp"
#include "placement.hpp"

using namespace emucxl::test;

namespace {

const char *kmod_device()
{
	const char *p = std::getenv("EMUCXL_KMOD_DEVICE");
	return p && *p ? p : "/dev/emucxl";
}

// One server and its data plane, as the drivers use them.
class Server {
public:
	Server(const char *path, bool memfd) : path_(path), memfd_(memfd) {}

	const char *path() const { return path_; }

	int open(int flags)
	{
		fds_.emplace_back(::open(path_, flags | O_CLOEXEC));
		return fds_.back().get();
	}

	void close(int fd)
	{
		for (auto &f : fds_)
			if (f.get() == fd)
				f.reset();
	}

	// ALLOC with the server's native flags added to `flags`.
	Alloc alloc(int fd, std::uint64_t size, unsigned node, std::uint32_t flags = 0,
		    std::uint32_t pad = 0, std::uint64_t reserved = 0)
	{
		emucxl_alloc a{};
		a.size = size;
		a.node = node;
		a.flags = flags;
		a.pad = pad;
		a.reserved[0] = reserved;
		int memfd = -1;
		if (memfd_) {
			// Sized and sealed as the daemon requires (any memfd
			// will do for sizes it refuses before looking at it).
			const std::uint64_t ps = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
			const std::uint64_t rounded =
				size && size <= (1ULL << 40) ? (size + ps - 1) / ps * ps : 0;
			memfds_.push_back(make_memfd(rounded));
			memfd = memfds_.back().get();
			a.flags |= EMUCXL_ALLOC_MEMFD;
			a.memfd = memfd;
		}
		Alloc r;
		r.err = ioc(fd, EMUCXL_ALLOC, &a);
		r.handle = a.handle;
		r.offset = a.offset;
		r.size = a.size;
		if (!r.err)
			planes_[{fd, r.handle}] = memfd;
		return r;
	}

	void *map(int fd, const Alloc &a)
	{
		const int plane = memfd_ ? planes_[{fd, a.handle}] : fd;
		return ::mmap(nullptr, a.size, PROT_READ | PROT_WRITE, MAP_SHARED, plane,
			      static_cast<off_t>(a.offset));
	}

private:
	const char *path_;
	bool memfd_;
	std::vector<Fd> fds_, memfds_;
	std::map<std::pair<int, std::uint64_t>, int> planes_;  // (session, handle) -> memfd
};

std::string err_name(int e) { return e ? std::strerror(e) : "ok"; }

// The sequence. Everything observable goes into the trace.
std::vector<std::string> run(Server &srv)
{
	std::vector<std::string> t;
	auto out = [&](std::ostringstream &os) { t.push_back(os.str()); };
	std::ostringstream os;
#define TRACE(expr)             \
	do {                    \
		os.str("");     \
		os << expr;     \
		out(os);        \
	} while (0)
	const std::uint64_t ps = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));

	const int obs = srv.open(O_RDONLY);
	emucxl_info info{};
	TRACE("INFO " << err_name(ioc(obs, EMUCXL_INFO, &info)) << " abi " << std::hex
		      << info.abi_version << std::dec << " page " << info.page_size << " nodes "
		      << info.nr_nodes);
	for (int n = 0; n < 2; n++)
		TRACE("  node " << n << " physical " << info.node[n].physical_node << " flags "
				<< info.node[n].flags << " capacity " << info.node[n].capacity
				<< " total " << info.node[n].total);
	emucxl_stats base{};
	TRACE("STATS " << err_name(ioc(obs, EMUCXL_STATS, &base)) << " nr_nodes " << base.nr_nodes);
	auto deltas = [&](const char *when) {
		emucxl_stats s{};
		const int e = ioc(obs, EMUCXL_STATS, &s);
		TRACE("STATS " << when << " " << err_name(e) << " sessions +"
			       << (s.sessions - base.sessions));
		for (int n = 0; n < 2; n++)
			TRACE("  node " << n << " allocated +" << (s.node[n].allocated - base.node[n].allocated)
					<< " allocations +"
					<< (s.node[n].allocations - base.node[n].allocations)
					<< " failures +" << (s.node[n].failures - base.node[n].failures)
					<< " peak>=allocated " << (s.node[n].peak >= s.node[n].allocated)
					<< " free<=capacity-allocated "
					<< (s.node[n].free <= s.node[n].capacity - s.node[n].allocated));
	};

	// A read-only session: INFO and STATS only.
	const int ro = srv.open(O_RDONLY);
	TRACE("ro INIT " << err_name(init_session(ro)));
	TRACE("ro ALLOC " << err_name(srv.alloc(ro, ps, 0).err));
	TRACE("ro FREE " << err_name(free_handle(ro, 1)));

	// Before INIT.
	const int s1 = srv.open(O_RDWR);
	TRACE("s1 ALLOC before INIT " << err_name(srv.alloc(s1, ps, 1).err));
	TRACE("s1 FREE before INIT " << err_name(free_handle(s1, 1)));
	deltas("with three sessions");

	// INIT negotiation.
	emucxl_init in{};
	in.abi_version = (EMUCXL_ABI_MAJOR + 1) << 16;
	TRACE("s1 INIT major+1 " << err_name(ioc(s1, EMUCXL_INIT, &in)) << " -> " << std::hex
				  << in.abi_version << std::dec);
	in = {};
	in.abi_version = EMUCXL_ABI_VERSION;
	in.flags = 1;
	TRACE("s1 INIT flags=1 " << err_name(ioc(s1, EMUCXL_INIT, &in)));
	in.flags = 0;
	in.reserved[1] = 1;
	TRACE("s1 INIT reserved " << err_name(ioc(s1, EMUCXL_INIT, &in)));
	in = {};
	in.abi_version = EMUCXL_ABI_VERSION | 7;  // a newer minor is fine
	TRACE("s1 INIT " << err_name(ioc(s1, EMUCXL_INIT, &in)) << " -> " << std::hex
			 << in.abi_version << std::dec);

	// Bad arguments, then sizes past any capacity.
	TRACE("s1 ALLOC size 0 " << err_name(srv.alloc(s1, 0, 0).err));
	TRACE("s1 ALLOC node 2 " << err_name(srv.alloc(s1, ps, 2).err));
	TRACE("s1 ALLOC node ~0 " << err_name(srv.alloc(s1, ps, 0xffffffffu).err));
	TRACE("s1 ALLOC flag 1<<31 " << err_name(srv.alloc(s1, ps, 0, 1u << 31).err));
	TRACE("s1 ALLOC flag 2 " << err_name(srv.alloc(s1, ps, 0, 2).err));
	TRACE("s1 ALLOC pad " << err_name(srv.alloc(s1, ps, 0, 0, 1).err));
	TRACE("s1 ALLOC reserved " << err_name(srv.alloc(s1, ps, 0, 0, 0, 1).err));
	TRACE("s1 ALLOC capacity+1 " << err_name(srv.alloc(s1, info.node[1].capacity + 1, 1).err));
	TRACE("s1 ALLOC 2^62 " << err_name(srv.alloc(s1, 1ULL << 62, 1).err));
	TRACE("s1 ALLOC ~0 " << err_name(srv.alloc(s1, UINT64_MAX, 1).err));
	TRACE("s1 ALLOC ~0-4095 node 0 " << err_name(srv.alloc(s1, UINT64_MAX - 4095, 0).err));
	deltas("after refusals");

	// Allocations of several sizes on both nodes: sizes, handles, zero
	// fill, data, placement.
	std::vector<std::uint64_t> handles;
	for (unsigned node = 0; node < 2; node++) {
		for (std::uint64_t size : {std::uint64_t{1}, ps, ps + 1, kMiB + 1, 64 * kMiB}) {
			Alloc a = srv.alloc(s1, size, node);
			std::ostringstream line;
			line << "s1 ALLOC " << size << " node " << node << " " << err_name(a.err)
			     << " handle " << a.handle << " size " << a.size;
			if (!a.err) {
				handles.push_back(a.handle);
				void *p = srv.map(s1, a);
				if (p == MAP_FAILED) {
					line << " mmap " << err_name(errno);
				} else {
					line << " zero " << all_zero(p, a.size);
					fill(p, a.size, static_cast<unsigned>(size));
					line << " data " << check(p, a.size, static_cast<unsigned>(size));
					const auto nodes = page_nodes(p, a.size);
					line << " pages " << nodes.size() << " on-node "
					     << all_on(nodes, static_cast<int>(info.node[node].physical_node));
					line << " munmap " << err_name(::munmap(p, a.size) ? errno : 0);
				}
			}
			t.push_back(line.str());
		}
	}
	deltas("with ten allocations");

	// FREE: good, double, bad handles, bad fields.
	TRACE("s1 FREE 3 " << err_name(free_handle(s1, 3)));
	TRACE("s1 FREE 3 again " << err_name(free_handle(s1, 3)));
	TRACE("s1 FREE 0 " << err_name(free_handle(s1, 0)));
	TRACE("s1 FREE 2^40 " << err_name(free_handle(s1, 1ULL << 40)));
	emucxl_free f{};
	f.handle = 4;
	f.flags = 1;
	TRACE("s1 FREE flags " << err_name(ioc(s1, EMUCXL_FREE, &f)));
	f.flags = 0;
	f.pad = 1;
	TRACE("s1 FREE pad " << err_name(ioc(s1, EMUCXL_FREE, &f)));
	Alloc next = srv.alloc(s1, ps, 1);
	TRACE("s1 ALLOC next " << err_name(next.err) << " handle " << next.handle);
	deltas("after one FREE and one ALLOC");

	// Another session: its own handles, its own EXIT.
	const int s2 = srv.open(O_RDWR);
	TRACE("s2 INIT " << err_name(init_session(s2)));
	TRACE("s2 FREE s1's 1 " << err_name(free_handle(s2, 1)));
	Alloc b = srv.alloc(s2, 2 * ps, 1);
	TRACE("s2 ALLOC " << err_name(b.err) << " handle " << b.handle << " size " << b.size);
	emucxl_exit ex{};
	TRACE("s2 EXIT " << err_name(ioc(s2, EMUCXL_EXIT, &ex)) << " freed " << ex.freed);

	// EXIT of s1: everything, and the session closes for allocation.
	ex = {};
	ex.pad = 1;
	TRACE("s1 EXIT pad " << err_name(ioc(s1, EMUCXL_EXIT, &ex)));
	ex = {};
	TRACE("s1 EXIT " << err_name(ioc(s1, EMUCXL_EXIT, &ex)) << " freed " << ex.freed);
	TRACE("s1 ALLOC after EXIT " << err_name(srv.alloc(s1, ps, 0).err));
	TRACE("s1 INIT again " << err_name(init_session(s1)));
	Alloc c = srv.alloc(s1, 3 * ps, 0);
	TRACE("s1 ALLOC after re-INIT " << err_name(c.err) << " handle " << c.handle);
	deltas("after the EXITs");

	// Commands that do not exist, pointers that do not work.
	std::uint64_t buf[32] = {};
	TRACE("ioctl _IO(x,0x7f) " << err_name(ioc(s1, _IO(EMUCXL_IOC_MAGIC, 0x7f), buf)));
	TRACE("ioctl ALLOC nr, u64 size "
	      << err_name(ioc(s1, _IOWR(EMUCXL_IOC_MAGIC, 0x02, std::uint64_t), buf)));
	TRACE("ioctl TCGETS-like " << err_name(ioc(s1, _IOR('T', 0x05, emucxl_info), buf)));
	TRACE("INFO NULL " << err_name(ioc(s1, EMUCXL_INFO, nullptr)));
	TRACE("ALLOC NULL " << err_name(ioc(s1, EMUCXL_ALLOC, nullptr)));
	TRACE("FREE (void*)8 " << err_name(ioc(s1, EMUCXL_FREE, reinterpret_cast<void *>(8))));

	// The rest of the file interface. (Not lseek: CUSE's own file
	// operations make it succeed, whatever the daemon says.)
	char byte = 0;
	TRACE("read " << (::read(s1, &byte, 1) < 0 ? err_name(errno) : "data"));
	TRACE("write " << (::write(s1, &byte, 1) < 0 ? err_name(errno) : "written"));

	// Closing sessions that still hold memory frees it.
	srv.close(s1);
	srv.close(s2);
	srv.close(ro);
	deltas("after closing every session");
#undef TRACE
	return t;
}

bool device_answers(const char *path, std::uint32_t impl)
{
	Fd fd(::open(path, O_RDONLY | O_CLOEXEC));
	emucxl_info info{};
	return fd && ioc(fd.get(), EMUCXL_INFO, &info) == 0 && info.impl == impl;
}

TEST(KmodVsCuse, SameOperationsGiveSameResults)
{
	if (!device_answers(kmod_device(), EMUCXL_IMPL_KMOD))
		GTEST_SKIP() << kmod_device() << " is not emucxl.ko's device (load the module; vm/run does)";
	if (!device_answers(cuse_device(), EMUCXL_IMPL_CUSE))
		GTEST_SKIP() << cuse_device() << " is not emucxl-cused's device (vm/run starts it)";

	Server kmod(kmod_device(), false), cuse(cuse_device(), true);
	const auto tk = run(kmod);
	const auto tc = run(cuse);
	ASSERT_EQ(tk.size(), tc.size());
	int differ = 0;
	for (std::size_t i = 0; i < tk.size(); i++) {
		if (tk[i] != tc[i]) {
			differ++;
			ADD_FAILURE() << "step " << i << " differs:\n  kmod: " << tk[i] << "\n  cuse: " << tc[i];
		}
	}
	std::printf("[          ] %zu steps compared, %d differ%s\n", tk.size(), differ,
		    differ ? "" : ": kmod and cuse agree");
	if (differ || std::getenv("EMUCXL_DIFF_VERBOSE"))
		for (std::size_t i = 0; i < tk.size(); i++)
			std::printf("  %3zu %s %s\n", i, tk[i] == tc[i] ? " " : "!", tk[i].c_str());
}

}  // namespace
