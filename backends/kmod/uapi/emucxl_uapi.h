/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
/*
 * emucxl_uapi.h - the ioctl ABI of /dev/emucxl.
 *
 * Served by the kernel module emucxl.ko (backends/kmod/module) and, byte for
 * byte, by the CUSE daemon emucxl-cused (backends/cuse). Plain C, usable from
 * the kernel and from userspace.
 *
 * Terms
 *   logical node   0 = local DRAM, 1 = emulated CXL (remote) memory
 *   physical node  the NUMA node id behind a logical node (module parameter
 *                  or daemon option; reported by EMUCXL_INFO)
 *   session        one open file description of the device; allocations
 *                  belong to the session that made them and are freed when
 *                  it is released (last close, also on exit or SIGKILL)
 *   handle         a session-local allocation id, 1 .. EMUCXL_HANDLE_MAX
 *   offset         the mmap offset that maps exactly that allocation; opaque
 *                  to the client (the module uses handle << PAGE_SHIFT)
 *
 * Protocol: open O_RDWR, EMUCXL_INIT (ABI negotiation), then EMUCXL_ALLOC /
 * mmap(MAP_SHARED, offset) / munmap / EMUCXL_FREE as often as needed,
 * EMUCXL_EXIT or close. EMUCXL_INFO and EMUCXL_STATS work at any time, also
 * on a session opened read-only and without EMUCXL_INIT.
 *
 * Rules for every struct
 *   - only fixed-width fields, every __u64 at an 8-byte offset, sizes a
 *     multiple of 8: the layout is the same for 32- and 64-bit callers, so
 *     compat ioctls need no translation;
 *   - input fields named pad / reserved must be zero (EINVAL otherwise), and
 *     so must unknown flag bits, so the ABI can grow without a new version;
 *   - output structs are filled completely (reserved fields read as zero).
 *
 * Errors (negative errno from ioctl, errno in userspace)
 *   ENOTTY      unknown ioctl command
 *   EFAULT      bad user pointer
 *   EINVAL      unknown flags, non-zero pad/reserved, size 0, node > 1
 *   EBADFD      EMUCXL_ALLOC / EMUCXL_FREE before EMUCXL_INIT
 *   EBADF       EMUCXL_INIT on a session opened without write access
 *   EPROTONOSUPPORT  EMUCXL_INIT with an ABI major this server does not speak
 *               (abi_version is still written back with the server's)
 *   ENOMEM      size beyond the node's remaining capacity, or the physical
 *               node has no free pages left (never a fallback to another node)
 *   EOPNOTSUPP  a flag this implementation does not serve (EMUCXL_ALLOC_MEMFD
 *               on the kernel module)
 *   EDQUOT      EMUCXL_ALLOC beyond a quota: the module's handles per open
 *               file (max_handles), the daemon's allocations or bytes per
 *               session or per uid
 *   EAGAIN      (daemon) too many requests of this session or uid in flight;
 *               retry (libemucxl does)
 *   ENOENT      EMUCXL_FREE of a handle that is not live in this session
 *   EINTR       EMUCXL_ALLOC interrupted by a fatal signal (nothing allocated)
 */
#ifndef _UAPI_LINUX_EMUCXL_H
#define _UAPI_LINUX_EMUCXL_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <linux/ioctl.h>
#include <linux/types.h>
#endif

/* ABI version: major << 16 | minor. A server accepts its own major. */
#define EMUCXL_ABI_MAJOR	1
#define EMUCXL_ABI_MINOR	0
#define EMUCXL_ABI_VERSION	((EMUCXL_ABI_MAJOR << 16) | EMUCXL_ABI_MINOR)
#define EMUCXL_ABI_VERSION_MAJOR(v)	(((v) >> 16) & 0xffff)
#define EMUCXL_ABI_VERSION_MINOR(v)	((v) & 0xffff)

#define EMUCXL_NR_NODES		2	/* logical nodes 0 (local), 1 (remote) */
#define EMUCXL_NODE_LOCAL	0
#define EMUCXL_NODE_REMOTE	1

#define EMUCXL_HANDLE_MAX	0x7fffffffU	/* handles are 1 .. this */

/* emucxl_info.impl: who serves the device */
#define EMUCXL_IMPL_KMOD	1	/* emucxl.ko */
#define EMUCXL_IMPL_CUSE	2	/* emucxl-cused */

/* emucxl_info.caps */
#define EMUCXL_CAP_MMAP		(1ULL << 0)	/* mmap(device, offset) maps an allocation */
#define EMUCXL_CAP_MEMFD	(1ULL << 1)	/* ALLOC serves EMUCXL_ALLOC_MEMFD */
#define EMUCXL_CAP_PINNED	(1ULL << 2)	/* memory is never swapped or migrated */
#define EMUCXL_CAP_STRICT_NODE	(1ULL << 3)	/* ENOMEM rather than another node */

/* emucxl_node_info.flags */
#define EMUCXL_NODE_HAS_CPUS	(1U << 0)	/* the physical node has CPUs */
#define EMUCXL_NODE_SHARED	(1U << 1)	/* both logical nodes share it */

/* emucxl_alloc.flags */
#define EMUCXL_ALLOC_MEMFD	(1U << 0)	/* back with the caller's memfd */
#define EMUCXL_ALLOC_FLAGS	(EMUCXL_ALLOC_MEMFD)

/* EMUCXL_INIT: negotiate the ABI and open the session for allocation. */
struct emucxl_init {
	__u32 abi_version;	/* in: client's EMUCXL_ABI_VERSION; out: server's */
	__u32 flags;		/* in: 0 */
	__u64 reserved[2];	/* in: 0 */
};

/* EMUCXL_EXIT: free every allocation of the session, close it for
 * allocation (EMUCXL_INIT opens it again). Mapped memory stays valid until
 * it is unmapped, as with EMUCXL_FREE.
 */
struct emucxl_exit {
	__u32 flags;		/* in: 0 */
	__u32 pad;		/* in: 0 */
	__u64 freed;		/* out: number of handles released */
	__u64 reserved[2];	/* in: 0 */
};

/* EMUCXL_ALLOC: allocate zero-filled memory on one logical node. */
struct emucxl_alloc {
	__u64 size;		/* in: bytes, > 0; out: rounded up to page_size */
	__u32 node;		/* in: logical node, 0 or 1 */
	__u32 flags;		/* in: EMUCXL_ALLOC_* */
	__s32 memfd;		/* in: with EMUCXL_ALLOC_MEMFD the caller's memfd, else 0 */
	__u32 pad;		/* in: 0 */
	__u64 handle;		/* out: 1 .. EMUCXL_HANDLE_MAX */
	__u64 offset;		/* out: mmap offset (device, or memfd with ..._MEMFD) */
	__u64 reserved[2];	/* in: 0 */
};

/* EMUCXL_FREE: release a handle. Memory still mapped is freed on munmap. */
struct emucxl_free {
	__u64 handle;		/* in */
	__u32 flags;		/* in: 0 */
	__u32 pad;		/* in: 0 */
	__u64 reserved[2];	/* in: 0 */
};

struct emucxl_node_info {
	__u32 physical_node;	/* NUMA node id */
	__u32 flags;		/* EMUCXL_NODE_* */
	__u64 capacity;		/* bytes the server lets all sessions place here */
	__u64 total;		/* bytes of memory the physical node has */
	__u64 reserved[2];
};

/* EMUCXL_INFO: what serves the device and how the nodes map. */
struct emucxl_info {
	__u32 abi_version;	/* EMUCXL_ABI_VERSION of the server */
	__u32 impl;		/* EMUCXL_IMPL_* */
	__u64 caps;		/* EMUCXL_CAP_* */
	__u32 page_size;	/* allocation granule, bytes */
	__u32 nr_nodes;		/* EMUCXL_NR_NODES */
	__u64 reserved[4];
	struct emucxl_node_info node[EMUCXL_NR_NODES];
};

struct emucxl_node_stats {
	__u64 allocated;	/* bytes held, all sessions, page granular */
	__u64 peak;		/* high-water mark of allocated */
	__u64 capacity;		/* limit for allocated */
	__u64 free;		/* min(capacity - allocated, node's free memory) */
	__u64 failures;		/* ALLOC calls that failed with ENOMEM */
	__u64 allocations;	/* live allocations (handles or mappings) */
	__u64 reserved[2];
};

/* EMUCXL_STATS: device-wide usage. */
struct emucxl_stats {
	__u32 nr_nodes;		/* EMUCXL_NR_NODES */
	__u32 sessions;		/* open sessions (files) */
	__u64 reserved[3];
	struct emucxl_node_stats node[EMUCXL_NR_NODES];
};

#define EMUCXL_IOC_MAGIC	'x'

#define EMUCXL_INIT	_IOWR(EMUCXL_IOC_MAGIC, 0x00, struct emucxl_init)
#define EMUCXL_EXIT	_IOWR(EMUCXL_IOC_MAGIC, 0x01, struct emucxl_exit)
#define EMUCXL_ALLOC	_IOWR(EMUCXL_IOC_MAGIC, 0x02, struct emucxl_alloc)
#define EMUCXL_FREE	_IOW(EMUCXL_IOC_MAGIC, 0x03, struct emucxl_free)
#define EMUCXL_STATS	_IOR(EMUCXL_IOC_MAGIC, 0x04, struct emucxl_stats)
#define EMUCXL_INFO	_IOR(EMUCXL_IOC_MAGIC, 0x05, struct emucxl_info)

#endif /* _UAPI_LINUX_EMUCXL_H */
