// SPDX-License-Identifier: Apache-2.0
// emucxl-cused - /dev/emucxl served from userspace through CUSE, speaking
// the kernel module's ioctl ABI (backends/kmod/uapi/emucxl_uapi.h) exactly,
// with memfds as the data plane (daemon/memfd_region.hpp).
//
//   emucxl-cused [--name NAME] [--local-node N] [--remote-node N]
//                [--local-capacity-mb MIB] [--remote-capacity-mb MIB]
//                [--log-level error|warn|info|debug] [--unrestricted-ioctl]
//                [-f] [-s] [-d]
//
// Needs /dev/cuse (modprobe cuse) and root: CUSE devices are root's, and the
// daemon reads clients' descriptors through /proc/<pid>/fd. Without -f it
// daemonises once the device is being set up and logs to syslog. SIGTERM,
// SIGINT or SIGHUP: the device goes away, every session is dropped, exit 0.
//
// This file is only the CUSE glue: options, the op handlers, main. The ABI's
// semantics are in device.cpp.
#ifndef FUSE_USE_VERSION  // CMake sets 312 when libfuse has fuse_loop_cfg_*
#define FUSE_USE_VERSION 31
#endif

#include <cuse_lowlevel.h>
#include <fuse_opt.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "device.hpp"
#include "limits.hpp"
#include "log.hpp"
#include "nodes.hpp"

namespace {

using emucxl::cused::Device;
using emucxl::cused::IoctlReply;

const char kUsage[] =
	"usage: emucxl-cused [options]\n"
	"\n"
	"Serve the emucxl device ABI (the kernel module's) from userspace via CUSE.\n"
	"\n"
	"options:\n"
	"    --name NAME               device name: /dev/NAME (default: emucxl)\n"
	"    --local-node N            physical node behind logical node 0\n"
	"                              (default: first node with CPUs and memory)\n"
	"    --remote-node N           physical node behind logical node 1 (default:\n"
	"                              first other node with memory and no CPUs, else\n"
	"                              the highest other node with memory, else local)\n"
	"    --local-capacity-mb MIB   capacity of logical node 0 (default 0: 50% of\n"
	"                              the node's memory, 90% if it has no CPUs)\n"
	"    --remote-capacity-mb MIB  capacity of logical node 1 (default 0: 90% of\n"
	"                              the node's memory, 50% if it has CPUs)\n"
	"    --log-level LEVEL         error, warn (default), info or debug\n"
	"    --max-allocations N       allocations of all clients together (default:\n"
	"                              vm.max_map_count less a reserve for the daemon)\n"
	"    --uid-max-allocations N   per user (default: half of --max-allocations)\n"
	"    --session-max-allocations N  per open file (default: as per user)\n"
	"    --uid-max-mb MIB          bytes per user, all nodes (default: no limit)\n"
	"    --session-max-mb MIB      bytes per open file (default: no limit)\n"
	"    --uid-max-requests N      requests in flight per user (default 32)\n"
	"    --session-max-requests N  requests in flight per open file (default 16)\n"
	"    --unrestricted-ioctl      let the kernel ask the daemon where ioctl\n"
	"                              arguments are (CUSE's unrestricted mode; for\n"
	"                              testing that path, same results)\n"
	"    -f                        stay in the foreground, log to stderr\n"
	"    -s                        single-threaded\n"
	"    -d                        FUSE debug output (implies -f)\n"
	"    -h, --help                this text\n";

// ---- state ---------------------------------------------------------------

struct Options {
	char *name = nullptr;
	int local_node = -1;
	int remote_node = -1;
	unsigned long local_capacity_mb = 0;
	unsigned long remote_capacity_mb = 0;
	char *log_level = nullptr;
	unsigned long max_allocations = 0;  // 0: the default (limits.hpp)
	unsigned long uid_max_allocations = 0;
	unsigned long session_max_allocations = 0;
	unsigned long uid_max_mb = 0;
	unsigned long session_max_mb = 0;
	unsigned uid_max_requests = 0;
	unsigned session_max_requests = 0;
	int unrestricted = 0;
	int foreground = 0;
	int help = 0;
};

Device &device_of(fuse_req_t req)
{
	return *static_cast<Device *>(fuse_req_userdata(req));
}

// ---- op handlers -----------------------------------------------------------
// C callbacks: nothing may throw through them (device.cpp catches what it
// can raise; the glue itself does not allocate), and each ends in exactly
// one fuse_reply_*.

void cused_open(fuse_req_t req, struct fuse_file_info *fi)
{
	Device &device = device_of(req);
	auto id = device.open_session(fi->flags, fuse_req_ctx(req)->uid);
	if (!id) {
		fuse_reply_err(req, id.error());
		return;
	}
	fi->fh = id.value();
	// Any failure (-ENOENT: the open was interrupted and the kernel forgot
	// the file) means no release will ever come for it.
	if (fuse_reply_open(req, fi) != 0)
		device.release_session(id.value());
}

void cused_release(fuse_req_t req, struct fuse_file_info *fi)
{
	device_of(req).release_session(fi->fh);
	fuse_reply_err(req, 0);
}

void cused_ioctl(fuse_req_t req, int cmd, void *arg, struct fuse_file_info *fi,
		 unsigned int flags, const void *in_buf, size_t in_bufsz, size_t out_bufsz)
{
	const auto ucmd = static_cast<unsigned>(cmd);
	std::size_t need_in = 0, need_out = 0;
	if (!emucxl::cused::ioctl_arg_sizes(ucmd, &need_in, &need_out)) {
		fuse_reply_err(req, ENOTTY);
		return;
	}
	// Restricted ioctls (the default) arrive with exactly the sizes the
	// command encodes. Unrestricted ones first arrive with none: describe
	// the argument and let the kernel copy it and ask again. The argument
	// structs have one layout for 32- and 64-bit callers, so compat calls
	// are served alike (the kernel checks the iovecs against 32-bit space).
	if (in_bufsz < need_in || out_bufsz < need_out) {
		// Only on the first pass of an unrestricted ioctl, which carries
		// nothing: anything else cannot happen for a well-formed request,
		// and answering it with another retry could loop for ever.
		if (!(flags & FUSE_IOCTL_UNRESTRICTED) || in_bufsz || out_bufsz) {
			fuse_reply_err(req, EINVAL);
			return;
		}
		struct iovec in_iov = {arg, need_in};
		struct iovec out_iov = {arg, need_out};
		fuse_reply_ioctl_retry(req, need_in ? &in_iov : nullptr, need_in ? 1 : 0,
				       need_out ? &out_iov : nullptr, need_out ? 1 : 0);
		return;
	}

	// The calling thread as the kernel names it (in our pid namespace);
	// the memfd number of EMUCXL_ALLOC is looked up in its fd table.
	const pid_t caller = fuse_req_ctx(req)->pid;
	Device &device = device_of(req);
	const IoctlReply r = device.ioctl(fi->fh, caller, ucmd, in_buf, need_in);
	const std::size_t out_len = r.out_len < need_out ? r.out_len : need_out;
	if (r.result < 0 && out_len == 0) {
		fuse_reply_err(req, -r.result);
		return;
	}
	const int sent = fuse_reply_ioctl(req, r.result, out_len ? r.data() : nullptr, out_len);
	// The caller is gone (interrupted, killed): the handle it will never
	// learn of must not live on in the session.
	if (sent != 0 && ucmd == EMUCXL_ALLOC && r.result == 0)
		device.cancel_alloc(fi->fh, r.out.alloc.handle);
}

// The module's device has no read or write, so the VFS answers EINVAL;
// answer the same (unimplemented, CUSE would say ENOSYS).
void cused_read(fuse_req_t req, size_t, off_t, struct fuse_file_info *)
{
	fuse_reply_err(req, EINVAL);
}

void cused_write(fuse_req_t req, const char *, size_t, off_t, struct fuse_file_info *)
{
	fuse_reply_err(req, EINVAL);
}

void cused_init_done(void *)
{
	CLOG_INFO("device ready");
}

// What is implemented; the nulls are spelled out (-Wextra wants every
// member). Without poll the kernel answers with its default mask, as it
// does for the module's device, which has none either.
const struct cuse_lowlevel_ops kOps = {
	.init = nullptr,
	.init_done = cused_init_done,
	.destroy = nullptr,
	.open = cused_open,
	.read = cused_read,
	.write = cused_write,
	.flush = nullptr,
	.release = cused_release,
	.fsync = nullptr,
	.ioctl = cused_ioctl,
	.poll = nullptr,
};

// ---- options -------------------------------------------------------------

enum { kKeyHelp, kKeyForeground };

#define CUSED_OPT(t, p) {t, offsetof(Options, p), 1}
const struct fuse_opt kOptions[] = {
	CUSED_OPT("--name %s", name),
	CUSED_OPT("--name=%s", name),
	CUSED_OPT("--local-node %d", local_node),
	CUSED_OPT("--local-node=%d", local_node),
	CUSED_OPT("--remote-node %d", remote_node),
	CUSED_OPT("--remote-node=%d", remote_node),
	CUSED_OPT("--local-capacity-mb %lu", local_capacity_mb),
	CUSED_OPT("--local-capacity-mb=%lu", local_capacity_mb),
	CUSED_OPT("--remote-capacity-mb %lu", remote_capacity_mb),
	CUSED_OPT("--remote-capacity-mb=%lu", remote_capacity_mb),
	CUSED_OPT("--log-level %s", log_level),
	CUSED_OPT("--log-level=%s", log_level),
	CUSED_OPT("--max-allocations %lu", max_allocations),
	CUSED_OPT("--max-allocations=%lu", max_allocations),
	CUSED_OPT("--uid-max-allocations %lu", uid_max_allocations),
	CUSED_OPT("--uid-max-allocations=%lu", uid_max_allocations),
	CUSED_OPT("--session-max-allocations %lu", session_max_allocations),
	CUSED_OPT("--session-max-allocations=%lu", session_max_allocations),
	CUSED_OPT("--uid-max-mb %lu", uid_max_mb),
	CUSED_OPT("--uid-max-mb=%lu", uid_max_mb),
	CUSED_OPT("--session-max-mb %lu", session_max_mb),
	CUSED_OPT("--session-max-mb=%lu", session_max_mb),
	CUSED_OPT("--uid-max-requests %u", uid_max_requests),
	CUSED_OPT("--uid-max-requests=%u", uid_max_requests),
	CUSED_OPT("--session-max-requests %u", session_max_requests),
	CUSED_OPT("--session-max-requests=%u", session_max_requests),
	CUSED_OPT("--unrestricted-ioctl", unrestricted),
	FUSE_OPT_KEY("-h", kKeyHelp),
	FUSE_OPT_KEY("--help", kKeyHelp),
	FUSE_OPT_KEY("-f", kKeyForeground),
	FUSE_OPT_KEY("-d", kKeyForeground),
	FUSE_OPT_END,
};
#undef CUSED_OPT

int process_arg(void *data, const char *arg, int key, struct fuse_args *)
{
	auto *o = static_cast<Options *>(data);
	switch (key) {
	case kKeyHelp:
		o->help = 1;
		return 0;
	case kKeyForeground:
		o->foreground = 1;
		return 1;  // keep it: libfuse acts on it too
	case FUSE_OPT_KEY_NONOPT:
		std::fprintf(stderr, "emucxl-cused: unexpected argument '%s'\n", arg);
		return -1;
	default:
		return 1;  // -s, -o ...: libfuse's
	}
}

// Run the device until a signal ends the session. Returns the exit status.
int serve(const Options &o, struct fuse_args *args)
{
	emucxl::cused::NodeSetup nodes[EMUCXL_NR_NODES];
	if (!emucxl::cused::setup_nodes(o.local_node, o.remote_node, o.local_capacity_mb,
					 o.remote_capacity_mb, nodes))
		return 1;
	const long ps = sysconf(_SC_PAGESIZE);
	emucxl::cused::Limits limits = emucxl::cused::default_limits();
	if (o.max_allocations)
		limits.allocations = o.max_allocations;
	limits.uid_allocations = std::min<std::uint64_t>(limits.uid_allocations, limits.allocations);
	if (o.uid_max_allocations)
		limits.uid_allocations = o.uid_max_allocations;
	limits.session_allocations = limits.uid_allocations;
	if (o.session_max_allocations)
		limits.session_allocations = o.session_max_allocations;
	if (o.uid_max_mb)
		limits.uid_bytes = static_cast<std::uint64_t>(o.uid_max_mb) << 20;
	if (o.session_max_mb)
		limits.session_bytes = static_cast<std::uint64_t>(o.session_max_mb) << 20;
	if (o.uid_max_requests)
		limits.uid_requests = o.uid_max_requests;
	if (o.session_max_requests)
		limits.session_requests = o.session_max_requests;
	if (o.uid_max_mb > (UINT64_MAX >> 20) || o.session_max_mb > (UINT64_MAX >> 20)) {
		CLOG_ERROR("--uid-max-mb / --session-max-mb: too large");
		return 1;
	}
	Device device(nodes, static_cast<std::uint32_t>(ps), limits);

	const std::string name = o.name ? o.name : "emucxl";
	const std::string devname = "DEVNAME=" + name;
	const char *dev_info_argv[] = {devname.c_str()};
	struct cuse_info ci {};
	ci.dev_info_argc = 1;
	ci.dev_info_argv = dev_info_argv;
	ci.flags = o.unrestricted ? CUSE_UNRESTRICTED_IOCTL : 0;

	CLOG_INFO("/dev/%s: logical 0 -> node %d (%" PRIu64 " MiB), logical 1 -> node %d (%" PRIu64
		  " MiB)%s%s",
		  name.c_str(), nodes[0].nid, nodes[0].capacity >> 20, nodes[1].nid,
		  nodes[1].capacity >> 20, nodes[0].nid == nodes[1].nid ? ", remote is not separate" : "",
		  o.unrestricted ? ", unrestricted ioctls" : "");
	CLOG_INFO("limits: %" PRIu64 " allocations; per uid %" PRIu64 " allocations, %u requests; "
		  "per session %" PRIu64 " allocations, %u requests",
		  limits.allocations, limits.uid_allocations, limits.uid_requests,
		  limits.session_allocations, limits.session_requests);

	int multithreaded = 0;
	struct fuse_session *se = cuse_lowlevel_setup(args->argc, args->argv, &ci, &kOps,
						      &multithreaded, &device);
	if (!se) {
		CLOG_ERROR("cannot create /dev/%s (is the cuse module loaded? are we root? is the "
			   "name taken?)", name.c_str());
		return 1;
	}
	// cuse_lowlevel_setup() has daemonised unless -f: stderr is gone.
	if (!o.foreground)
		emucxl::cused::log_to_syslog(true);
	int rc;
	if (!multithreaded) {
		rc = fuse_session_loop(se);
	} else {
#if FUSE_USE_VERSION >= 312
		// Our own loop config, destroyed after: the 3.1 entry point
		// creates one and leaks it (harmless, but it fails ASan builds).
		// More workers than one uid may keep busy (limits.hpp), so a
		// user at its cap of requests in flight leaves some to others.
		struct fuse_loop_config *cfg = fuse_loop_cfg_create();
		if (cfg)
			fuse_loop_cfg_set_max_threads(cfg, emucxl::cused::kMaxWorkers);
		rc = cfg ? fuse_session_loop_mt(se, cfg) : -1;
		fuse_loop_cfg_destroy(cfg);
#else
		rc = fuse_session_loop_mt(se, 0);
#endif
	}
	CLOG_INFO("/dev/%s: stopping", name.c_str());
	// The channel closes here and the kernel removes the device; no more
	// requests can come, so the sessions can go.
	cuse_lowlevel_teardown(se);
	device.shutdown();
	return rc < 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	Options o;
	int rc = 1;
	if (fuse_opt_parse(&args, &o, kOptions, process_arg) != 0) {
		std::fputs(kUsage, stderr);
		goto out;
	}
	if (o.help) {
		std::fputs(kUsage, stdout);
		rc = 0;
		goto out;
	}
	if (o.log_level) {
		emucxl::cused::Level level;
		if (!emucxl::cused::parse_level(o.log_level, &level)) {
			std::fprintf(stderr, "emucxl-cused: --log-level: '%s' is not error, warn, info "
				     "or debug\n", o.log_level);
			goto out;
		}
		emucxl::cused::log_set_level(level);
	}
	if (o.name && (!*o.name || std::strchr(o.name, '/'))) {
		std::fprintf(stderr, "emucxl-cused: --name: '%s' is not a device name\n", o.name);
		goto out;
	}
	try {
		rc = serve(o, &args);
	} catch (...) {
		CLOG_ERROR("unexpected failure");
		rc = 1;
	}
out:
	std::free(o.name);
	std::free(o.log_level);
	fuse_opt_free_args(&args);
	return rc;
}
