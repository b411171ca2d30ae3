// SPDX-License-Identifier: Apache-2.0
// cused_ioctl_fuzzer.cpp - libFuzzer harness for emucxl-cused's ioctl
// decoding and semantics (backends/cuse/daemon/device.cpp), in process: the
// same Device the daemon feeds from CUSE, fed here with random commands,
// argument bytes, sessions, open flags and memfd numbers (real memfds of
// this process among them, so allocations really are placed and freed).
//
// Checked after every input: every reply is well formed (result 0 or a
// negative errno, out_len no larger than the argument), the device's usage
// as EMUCXL_STATS reports it is back to zero once all sessions are released,
// and the sanitizers saw nothing.
//
//   build: see api_fuzzer.cpp; target emucxl_cused_ioctl_fuzzer
//   long run: build-fuzz/tests/emucxl_cused_ioctl_fuzzer -max_total_time=3600
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "device.hpp"
#include "emucxl_uapi.h"

namespace {

using emucxl::cused::Device;
using emucxl::cused::IoctlReply;
using emucxl::cused::NodeSetup;

constexpr std::uint64_t kMiB = 1 << 20;

[[noreturn]] void broken(const char *what, long v)
{
	std::fprintf(stderr, "invariant broken: %s (%ld)\n", what, v);
	std::abort();
}

Device &device()
{
	static std::unique_ptr<Device> dev = [] {
		const auto mem = emucxl::cused::node_memory(0);
		NodeSetup nodes[2];
		nodes[0] = {0, 8 * kMiB, mem.usable, true};
		nodes[1] = {0, 4 * kMiB, mem.usable, true};  // a one-node host: remote shares node 0
		return std::make_unique<Device>(nodes, static_cast<std::uint32_t>(sysconf(_SC_PAGESIZE)));
	}();
	return *dev;
}

std::uint64_t allocated(Device &dev, std::uint64_t session)
{
	IoctlReply r = dev.ioctl(session, getpid(), EMUCXL_STATS, nullptr, 0);
	if (r.result != 0)
		broken("EMUCXL_STATS failed", r.result);
	return r.out.stats.node[0].allocated + r.out.stats.node[1].allocated;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	Device &dev = device();
	static const unsigned kCommands[] = {EMUCXL_INIT,  EMUCXL_EXIT, EMUCXL_ALLOC,
					     EMUCXL_FREE, EMUCXL_STATS, EMUCXL_INFO};
	std::vector<std::uint64_t> sessions;
	std::vector<int> memfds;
	std::size_t i = 0;
	auto byte = [&] { return i < size ? data[i++] : std::uint8_t{0}; };

	for (int step = 0; step < 64 && i < size; step++) {
		const std::uint8_t op = byte();
		if (sessions.empty() || op % 16 == 0) {
			auto s = dev.open_session(op & 1 ? O_RDONLY : O_RDWR);
			if (s)
				sessions.push_back(s.value());
			continue;
		}
		if (op % 16 == 1) {  // a memfd to name, sized or not
			int fd = memfd_create("fuzz", MFD_CLOEXEC | ((op & 32) ? MFD_ALLOW_SEALING : 0));
			if (fd >= 0) {
				if (op & 64)
					(void)ftruncate(fd, static_cast<off_t>((byte() % 4 + 1) * 4096));
				if (op & 128)  // the seals the daemon requires
					(void)fcntl(fd, F_ADD_SEALS,
						    F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
				memfds.push_back(fd);
			}
			continue;
		}
		if (op % 16 == 2) {  // the last close of a session
			const std::size_t k = byte() % sessions.size();
			dev.release_session(sessions[k]);
			sessions.erase(sessions.begin() + static_cast<long>(k));
			continue;
		}

		// An ioctl: a real command or a random number; random argument
		// bytes, sometimes shaped into a nearly valid ALLOC.
		unsigned cmd = kCommands[byte() % 6];
		if (op & 0x80)
			cmd = static_cast<unsigned>(byte()) << 24 | static_cast<unsigned>(byte()) << 16 |
			      static_cast<unsigned>(byte()) << 8 | byte();
		alignas(8) std::uint8_t arg[256] = {};
		const std::size_t len = byte() % sizeof(arg);
		for (std::size_t k = 0; k < len; k++)
			arg[k] = byte();
		if (cmd == EMUCXL_ALLOC && (op & 0x40)) {
			emucxl_alloc a{};
			a.size = (byte() % 8 + 1) * 4096;
			a.node = byte() % 3;
			a.flags = byte() % 4 ? EMUCXL_ALLOC_MEMFD : byte();
			a.memfd = memfds.empty() || byte() % 4 == 0
					  ? static_cast<std::int32_t>(byte()) - 16
					  : memfds[byte() % memfds.size()];
			std::memcpy(arg, &a, sizeof(a));
		}
		std::size_t in = 0, out = 0;
		std::size_t in_len = len;
		if (emucxl::cused::ioctl_arg_sizes(cmd, &in, &out))
			in_len = in;  // the CUSE layer hands over exactly what the command says
		const auto session = sessions[byte() % sessions.size()];
		IoctlReply r = dev.ioctl(session, getpid(), cmd, arg, in_len);
		if (r.result > 0 || r.result < -4095)
			broken("ioctl result is neither 0 nor -errno", r.result);
		if (r.out_len > sizeof(r.out) || (r.out_len && r.out_len != out))
			broken("reply longer than the command's argument", static_cast<long>(r.out_len));
	}

	for (std::uint64_t s : sessions)
		dev.release_session(s);
	for (int fd : memfds)
		close(fd);
	auto observer = dev.open_session(O_RDONLY);
	if (!observer)
		broken("cannot open a session", observer.error());
	if (const std::uint64_t left = allocated(dev, observer.value()); left != 0)
		broken("device usage not back to zero after every session is released",
		       static_cast<long>(left));
	dev.release_session(observer.value());
	return 0;
}
