// SPDX-License-Identifier: GPL-2.0-only
/*
 * emucxl.ko - emulated CXL memory: node-placed, pinned memory behind
 * /dev/emucxl.
 *
 * Two logical nodes: 0 is local DRAM, 1 the emulated CXL (remote) memory.
 * Each maps to one physical NUMA node (module parameters local_node and
 * remote_node) and has a capacity (local_capacity_mb, remote_capacity_mb).
 *
 * A session is one open file. EMUCXL_ALLOC allocates zero-filled pages on
 * exactly the physical node behind the logical node asked for (order-9
 * chunks where the buddy allocator has them, split into order-0 pages,
 * order 0 otherwise; __GFP_THISNODE, so ENOMEM rather than another node),
 * after reserving the size against the node's capacity. mmap(MAP_SHARED) of
 * the offset it returns maps exactly that allocation with vm_insert_pages().
 * The pages are not on the LRU: never swapped, never migrated.
 *
 * ZONE_MOVABLE: a node whose memory is all in ZONE_MOVABLE (CXL memory
 * onlined by daxctl's default) can hold no unmovable allocation. With
 * allow_movable (default) the module takes that node's pages from
 * ZONE_MOVABLE anyway, still pinned, and refuses to let memory holding them
 * be offlined (EBUSY at once, emucxl_hotplug.c); on a node with memory
 * outside ZONE_MOVABLE it never does. allow_movable=0 refuses such a node
 * at load, naming the fix (online it as normal memory).
 *
 * Lifetime: an allocation (struct emucxl_buf) is reference counted. Its
 * handle holds one reference, every VMA mapping it holds one (taken in mmap
 * and vm_ops->open, dropped in vm_ops->close). EMUCXL_FREE, EMUCXL_EXIT and
 * the release of the file drop the handle's reference; the pages go back to
 * the buddy allocator, and the capacity to the node, with the last one.
 *
 * Fork: mappings carry VM_DONTCOPY, a child does not inherit them. (A
 * process that clears it with MADV_DOFORK gets a shared mapping in the
 * child, holding its own reference.) The file itself is shared like any
 * file, and with it the session's handles.
 *
 * Counters: /sys/class/misc/emucxl/sessions and .../node{0,1}/<counter>.
 *
 * Capacity: each logical node has its own, and the physical node behind it
 * (struct emucxl_pool) one more: when both logical nodes are one physical
 * node, they share the larger of their capacities.
 *
 * Locking: emucxl_file.lock (mutex) guards a session's handle table and
 * state; it is taken under mmap_lock in emucxl_mmap(), so no user copy is
 * ever done while holding it. emucxl_acct_lock (spinlock) guards allocated
 * and peak of the nodes and pools. Nothing else is shared.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/build_bug.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/nodemask.h>
#include <linux/sched/signal.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/uaccess.h>
#include <linux/vmstat.h>
#include <linux/xarray.h>

#include "emucxl_hotplug.h"

#include "emucxl_uapi.h"

#define EMUCXL_MAX_ORDER	9	/* 2 MiB chunks with 4 KiB pages */
#define EMUCXL_INSERT_BATCH	512UL	/* pages per vm_insert_pages() call */
#define EMUCXL_FREE_BATCH	512UL	/* pages freed between reschedules */
#define EMUCXL_DROP_BATCH	1024U	/* handles detached per lock hold */
#define EMUCXL_CPULESS_PERCENT	90	/* default capacity, memory-only node */
#define EMUCXL_CPU_PERCENT	50	/* default capacity, node with CPUs */

/*
 * MAX_PAGE_ORDER (6.8+) is inclusive; MAX_ORDER was inclusive in 6.4-6.7
 * and exclusive before: '<' holds either way, with no version check.
 */
#ifdef MAX_PAGE_ORDER
static_assert(EMUCXL_MAX_ORDER <= MAX_PAGE_ORDER);
#else
static_assert(EMUCXL_MAX_ORDER < MAX_ORDER);
#endif

/* One layout for 32- and 64-bit callers: the compat ioctl is the same. */
static_assert(sizeof(struct emucxl_init) == 24);
static_assert(sizeof(struct emucxl_exit) == 32);
static_assert(sizeof(struct emucxl_alloc) == 56);
static_assert(sizeof(struct emucxl_free) == 32);
static_assert(sizeof(struct emucxl_node_info) == 40);
static_assert(sizeof(struct emucxl_info) == 136);
static_assert(sizeof(struct emucxl_node_stats) == 64);
static_assert(sizeof(struct emucxl_stats) == 160);

/*
 * Unmovable user pages, zeroed, on exactly the node asked for; no warning
 * when the node is full: that is an ordinary ENOMEM for the caller.
 */
#define EMUCXL_GFP (GFP_HIGHUSER | __GFP_ZERO | __GFP_THISNODE | __GFP_NOWARN)

static int local_node = NUMA_NO_NODE;
module_param(local_node, int, 0444);
MODULE_PARM_DESC(local_node,
		 "Physical node behind logical node 0 (default: first node with CPUs and memory)");

static int remote_node = NUMA_NO_NODE;
module_param(remote_node, int, 0444);
MODULE_PARM_DESC(remote_node,
		 "Physical node behind logical node 1 (default: first other node with memory and no CPUs, else the highest other node with memory, else local_node)");

static bool allow_movable = true;
module_param(allow_movable, bool, 0444);
MODULE_PARM_DESC(allow_movable,
		 "On a node whose memory is all ZONE_MOVABLE (CXL memory onlined movable), allocate there anyway, pinned, and refuse offlining of memory holding such pages (default Y); N: refuse such a node at load");

static ulong local_capacity_mb;
module_param(local_capacity_mb, ulong, 0444);
MODULE_PARM_DESC(local_capacity_mb,
		 "Capacity of logical node 0 in MiB (default 0: 50% of the node's memory, 90% if it has no CPUs)");

static ulong remote_capacity_mb;
module_param(remote_capacity_mb, ulong, 0444);
MODULE_PARM_DESC(remote_capacity_mb,
		 "Capacity of logical node 1 in MiB (default 0: 90% of the node's memory, 50% if it has CPUs)");

/*
 * One physical node: what the logical nodes on it hold together. When both
 * logical nodes are the same physical node (a one-node machine), they share
 * one budget, the larger of their two capacities, rather than each pinning
 * its own share of the same memory.
 */
struct emucxl_pool {
	int		nid;		/* physical NUMA node */
	u64		capacity;	/* bytes, limit for allocated */
	u64		allocated;	/* bytes held; guarded by emucxl_acct_lock */
};

/* One logical node. nid, capacity and pool are fixed after module load. */
struct emucxl_node {
	int		nid;		/* physical NUMA node */
	bool		movable;	/* pages from ZONE_MOVABLE (only zone) */
	u64		capacity;	/* bytes, limit for allocated */
	struct emucxl_pool *pool;	/* its physical node */
	u64		allocated;	/* bytes held by live emucxl_bufs */
	u64		peak;		/* high-water mark of allocated */
	atomic64_t	failures;	/* ALLOCs that failed with ENOMEM */
	atomic64_t	allocations;	/* live emucxl_bufs */
};

/* Guards allocated and peak of every node and pool. */
static DEFINE_SPINLOCK(emucxl_acct_lock);
static struct emucxl_node emucxl_nodes[EMUCXL_NR_NODES];
static struct emucxl_pool emucxl_pools[EMUCXL_NR_NODES];
static atomic_t emucxl_sessions = ATOMIC_INIT(0);

static uint max_handles = 1U << 20;
module_param(max_handles, uint, 0444);
MODULE_PARM_DESC(max_handles,
		 "Live handles one open file may hold; more is EDQUOT (default 1048576)");

/* One allocation. */
struct emucxl_buf {
	struct kref		ref;		/* the handle's + one per VMA */
	struct list_head	drop;		/* emucxl_file_drop_all()'s batch */
	struct emucxl_node	*node;
	unsigned long		id;		/* handle, == vm_pgoff of its VMAs */
	unsigned long		nr_pages;
	struct page		**pages;	/* nr_pages order-0 pages */
	struct emucxl_tracked	tracked;	/* for the memory offline check */
};

/* One session: an open file of the device. */
struct emucxl_file {
	struct mutex	lock;		/* guards bufs, next_id, initialised */
	struct xarray	bufs;		/* handle -> emucxl_buf (handle's ref) */
	unsigned int	nr_bufs;	/* entries in bufs, <= max_handles */
	u32		next_id;	/* cursor for cyclic handle allocation */
	bool		initialised;	/* EMUCXL_INIT done, no EMUCXL_EXIT since */
};

/*
 * EMUCXL_HAVE_VM_FLAGS_SET comes from a test of the kernel's headers at
 * build time (Kbuild), not from its version: distribution kernels backport
 * vm_flags_set() (RHEL 9 has it on 5.14).
 */
static inline void emucxl_vm_flags_set(struct vm_area_struct *vma,
				       unsigned long flags)
{
#ifdef EMUCXL_HAVE_VM_FLAGS_SET
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

static bool emucxl_is_zero(const void *p, size_t len)
{
	return !memchr_inv(p, 0, len);
}

/*
 * Memory of a node the module allocates from: the zones below ZONE_MOVABLE,
 * and ZONE_MOVABLE too when it is the node's only memory (movable).
 */
static u64 emucxl_node_usable_bytes(int nid, bool movable)
{
	pg_data_t *pgdat = NODE_DATA(nid);
	unsigned long pages = 0;
	int z;

	for (z = 0; z <= (movable ? ZONE_MOVABLE : ZONE_MOVABLE - 1); z++)
		pages += zone_managed_pages(&pgdat->node_zones[z]);
	return (u64)pages << PAGE_SHIFT;
}

static u64 emucxl_node_free_bytes(int nid, bool movable)
{
	pg_data_t *pgdat = NODE_DATA(nid);
	unsigned long pages = 0;
	int z;

	for (z = 0; z <= (movable ? ZONE_MOVABLE : ZONE_MOVABLE - 1); z++)
		pages += zone_page_state(&pgdat->node_zones[z], NR_FREE_PAGES);
	return (u64)pages << PAGE_SHIFT;
}

/* ---- capacity accounting ---- */

/* Charge bytes to the logical node and to its physical node, or neither. */
static bool emucxl_node_reserve(struct emucxl_node *node, u64 bytes)
{
	struct emucxl_pool *pool = node->pool;
	bool ok = false;

	spin_lock(&emucxl_acct_lock);
	if (bytes <= node->capacity - node->allocated &&
	    bytes <= pool->capacity - pool->allocated) {
		node->allocated += bytes;
		pool->allocated += bytes;
		if (node->allocated > node->peak)
			node->peak = node->allocated;
		ok = true;
	}
	spin_unlock(&emucxl_acct_lock);
	return ok;
}

static void emucxl_node_unreserve(struct emucxl_node *node, u64 bytes)
{
	spin_lock(&emucxl_acct_lock);
	node->allocated -= bytes;
	node->pool->allocated -= bytes;
	spin_unlock(&emucxl_acct_lock);
}

/* What the node may still take: its own room and its physical node's. */
static u64 emucxl_node_room(struct emucxl_node *node)
{
	u64 room;

	spin_lock(&emucxl_acct_lock);
	room = min(node->capacity - node->allocated,
		   node->pool->capacity - node->pool->allocated);
	spin_unlock(&emucxl_acct_lock);
	return room;
}

/* ---- allocations ---- */

static void emucxl_free_pages(struct page **pages, unsigned long nr)
{
	unsigned long i;

	for (i = 0; i < nr; i++) {
		__free_page(pages[i]);
		if ((i + 1) % EMUCXL_FREE_BATCH == 0)
			cond_resched();
	}
}

/*
 * Fill buf->pages from node nid: the largest order that fits what is left,
 * down to order 0 when the node has no such chunk. On error the pages
 * allocated so far are freed.
 */
static int emucxl_alloc_pages(struct emucxl_buf *buf, int nid, bool movable)
{
	gfp_t gfp = EMUCXL_GFP | (movable ? __GFP_MOVABLE : 0);
	unsigned int order = EMUCXL_MAX_ORDER;
	unsigned long done = 0;
	struct page *page;
	unsigned long i;
	int ret;

	if (!node_state(nid, N_MEMORY))
		return -ENOMEM;

	while (done < buf->nr_pages) {
		while ((1UL << order) > buf->nr_pages - done)
			order--;

		page = alloc_pages_node(nid, gfp | (order ? __GFP_NORETRY : 0),
					order);
		if (!page) {
			if (order) {
				order--;
				continue;
			}
			ret = -ENOMEM;
			goto err_free;
		}
		if (unlikely(page_to_nid(page) != nid)) {
			/* __GFP_THISNODE promises this; never hand it out */
			__free_pages(page, order);
			pr_err_ratelimited("page from node %d, asked for %d\n",
					   page_to_nid(page), nid);
			ret = -ENOMEM;
			goto err_free;
		}
		if (order)
			split_page(page, order);
		for (i = 0; i < (1UL << order); i++)
			buf->pages[done++] = page + i;

		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			goto err_free;
		}
		cond_resched();
	}
	return 0;

err_free:
	emucxl_free_pages(buf->pages, done);
	return ret;
}

static struct emucxl_buf *emucxl_buf_create(struct emucxl_node *node,
					    unsigned long nr_pages)
{
	struct emucxl_buf *buf;
	int ret;

	buf = kzalloc(sizeof(*buf), GFP_KERNEL_ACCOUNT);
	if (!buf)
		return ERR_PTR(-ENOMEM);
	kref_init(&buf->ref);
	buf->node = node;
	buf->nr_pages = nr_pages;

	buf->pages = kvcalloc(nr_pages, sizeof(*buf->pages),
			      GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!buf->pages) {
		/* kernel memory for the page array, not the node, ran out */
		pr_debug_ratelimited("no memory for the page array of %lu pages\n",
				     nr_pages);
		ret = -ENOMEM;
		goto err_free_buf;
	}

	/* tracked before an offline check can look (emucxl_hotplug.c) */
	emucxl_hotplug_alloc_begin();
	ret = emucxl_alloc_pages(buf, node->nid, node->movable);
	if (!ret) {
		buf->tracked.pages = buf->pages;
		buf->tracked.nr = nr_pages;
		emucxl_hotplug_track(&buf->tracked);
	}
	emucxl_hotplug_alloc_end();
	if (ret) {
		if (ret == -ENOMEM)
			pr_debug_ratelimited("node %d is out of memory: %lu pages refused\n",
					     node->nid, nr_pages);
		goto err_free_array;
	}

	atomic64_inc(&node->allocations);
	return buf;

err_free_array:
	kvfree(buf->pages);
err_free_buf:
	kfree(buf);
	return ERR_PTR(ret);
}

static void emucxl_buf_release(struct kref *ref)
{
	struct emucxl_buf *buf = container_of(ref, struct emucxl_buf, ref);
	struct emucxl_node *node = buf->node;

	emucxl_hotplug_untrack(&buf->tracked);
	emucxl_free_pages(buf->pages, buf->nr_pages);
	kvfree(buf->pages);
	emucxl_node_unreserve(node, (u64)buf->nr_pages << PAGE_SHIFT);
	atomic64_dec(&node->allocations);
	kfree(buf);
}

static void emucxl_buf_put(struct emucxl_buf *buf)
{
	kref_put(&buf->ref, emucxl_buf_release);
}

/*
 * Drop the handles of a session; returns how many there were. Handles are
 * detached in batches under ef->lock and freed outside it, rescheduling
 * after each one (a one-page allocation never reaches the reschedule point
 * of emucxl_free_pages()), so that a session with millions of handles
 * neither stalls the CPU nor keeps mmap on the session waiting throughout.
 */
static u64 emucxl_file_drop_all(struct emucxl_file *ef)
{
	struct emucxl_buf *buf, *next;
	unsigned long id;
	unsigned int k;
	LIST_HEAD(batch);
	u64 n = 0;

	do {
		k = 0;
		mutex_lock(&ef->lock);
		xa_for_each(&ef->bufs, id, buf) {
			xa_erase(&ef->bufs, id);
			ef->nr_bufs--;
			list_add_tail(&buf->drop, &batch);
			if (++k == EMUCXL_DROP_BATCH)
				break;
		}
		mutex_unlock(&ef->lock);

		/* the handles' references are ours now */
		list_for_each_entry_safe(buf, next, &batch, drop) {
			list_del(&buf->drop);
			emucxl_buf_put(buf);
			n++;
			cond_resched();
		}
	} while (k == EMUCXL_DROP_BATCH);
	return n;
}

/* ---- ioctls ---- */

static long emucxl_ioctl_init(struct file *file, struct emucxl_file *ef,
			      void __user *uarg)
{
	struct emucxl_init arg;
	bool supported;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.flags || !emucxl_is_zero(arg.reserved, sizeof(arg.reserved)))
		return -EINVAL;
	if (!(file->f_mode & FMODE_WRITE))
		return -EBADF;

	supported = EMUCXL_ABI_VERSION_MAJOR(arg.abi_version) == EMUCXL_ABI_MAJOR;
	arg.abi_version = EMUCXL_ABI_VERSION;
	if (copy_to_user(uarg, &arg, sizeof(arg)))
		return -EFAULT;
	if (!supported)
		return -EPROTONOSUPPORT;

	mutex_lock(&ef->lock);
	ef->initialised = true;
	mutex_unlock(&ef->lock);
	return 0;
}

static long emucxl_ioctl_exit(struct emucxl_file *ef, void __user *uarg)
{
	struct emucxl_exit arg;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.flags || arg.pad ||
	    !emucxl_is_zero(arg.reserved, sizeof(arg.reserved)))
		return -EINVAL;

	/* closed first: an ALLOC racing with this cannot add a handle */
	mutex_lock(&ef->lock);
	ef->initialised = false;
	mutex_unlock(&ef->lock);
	arg.freed = emucxl_file_drop_all(ef);

	return copy_to_user(uarg, &arg, sizeof(arg)) ? -EFAULT : 0;
}

static long emucxl_ioctl_alloc(struct emucxl_file *ef, void __user *uarg)
{
	struct emucxl_alloc arg;
	struct emucxl_node *node;
	struct emucxl_buf *buf;
	unsigned long nr_pages;
	u64 bytes;
	u32 id;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if ((arg.flags & ~EMUCXL_ALLOC_FLAGS) || arg.pad ||
	    !emucxl_is_zero(arg.reserved, sizeof(arg.reserved)))
		return -EINVAL;
	if (arg.flags & EMUCXL_ALLOC_MEMFD)
		return -EOPNOTSUPP;	/* the module serves mmap of the device */
	if (arg.memfd || !arg.size || arg.node >= EMUCXL_NR_NODES)
		return -EINVAL;
	if (!READ_ONCE(ef->initialised))
		return -EBADFD;
	/* checked again under the lock; this spares the page allocation */
	if (READ_ONCE(ef->nr_bufs) >= max_handles)
		return -EDQUOT;

	node = &emucxl_nodes[arg.node];
	if (arg.size > node->capacity) {	/* also bounds the rounding below */
		ret = -ENOMEM;
		goto err_capacity;
	}
	nr_pages = DIV_ROUND_UP(arg.size, PAGE_SIZE);
	bytes = (u64)nr_pages << PAGE_SHIFT;

	if (!emucxl_node_reserve(node, bytes)) {
		ret = -ENOMEM;
		goto err_capacity;
	}

	buf = emucxl_buf_create(node, nr_pages);
	if (IS_ERR(buf)) {
		ret = PTR_ERR(buf);
		goto err_unreserve;
	}
	/* the capacity reservation now belongs to buf: released with it */

	mutex_lock(&ef->lock);
	if (!ef->initialised) {			/* raced with EMUCXL_EXIT */
		mutex_unlock(&ef->lock);
		ret = -EBADFD;
		goto err_put;
	}
	if (ef->nr_bufs >= max_handles) {	/* raced with another ALLOC */
		mutex_unlock(&ef->lock);
		ret = -EDQUOT;
		goto err_put;
	}
	ret = xa_alloc_cyclic(&ef->bufs, &id, buf,
			      XA_LIMIT(1, EMUCXL_HANDLE_MAX), &ef->next_id,
			      GFP_KERNEL_ACCOUNT);
	if (ret >= 0) {
		buf->id = id;
		ef->nr_bufs++;
	}
	mutex_unlock(&ef->lock);
	if (ret < 0)
		goto err_put;
	/* the handle (the session's table) owns buf's initial reference */

	arg.size = bytes;
	arg.handle = id;
	arg.offset = (u64)id << PAGE_SHIFT;
	if (copy_to_user(uarg, &arg, sizeof(arg))) {
		mutex_lock(&ef->lock);
		/* unless another thread already freed it by guessing the id */
		if (xa_cmpxchg(&ef->bufs, id, buf, NULL, 0) == buf) {
			ef->nr_bufs--;
			emucxl_buf_put(buf);
		}
		mutex_unlock(&ef->lock);
		return -EFAULT;
	}
	return 0;

err_put:
	emucxl_buf_put(buf);
	return ret;
err_unreserve:
	emucxl_node_unreserve(node, bytes);
	if (ret == -ENOMEM)
		atomic64_inc(&node->failures);
	return ret;
err_capacity:
	/*
	 * Any client can trigger this at will: counted (node<N>/failures),
	 * logged only with dynamic debug.
	 */
	atomic64_inc(&node->failures);
	pr_debug_ratelimited("logical node %u: %llu bytes refused, over its capacity of %llu\n",
			     arg.node, arg.size, node->capacity);
	return ret;
}

static long emucxl_ioctl_free(struct emucxl_file *ef, void __user *uarg)
{
	struct emucxl_buf *buf = NULL;
	struct emucxl_free arg;
	long ret = 0;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.flags || arg.pad ||
	    !emucxl_is_zero(arg.reserved, sizeof(arg.reserved)))
		return -EINVAL;

	mutex_lock(&ef->lock);
	if (!ef->initialised)
		ret = -EBADFD;
	else if (arg.handle && arg.handle <= EMUCXL_HANDLE_MAX)
		buf = xa_erase(&ef->bufs, arg.handle);
	if (buf)
		ef->nr_bufs--;
	mutex_unlock(&ef->lock);

	if (ret)
		return ret;
	if (!buf)
		return -ENOENT;
	emucxl_buf_put(buf);	/* pages still mapped live until munmap */
	return 0;
}

static long emucxl_ioctl_stats(void __user *uarg)
{
	struct emucxl_stats arg;
	int i;

	memset(&arg, 0, sizeof(arg));
	arg.nr_nodes = EMUCXL_NR_NODES;
	arg.sessions = atomic_read(&emucxl_sessions);
	for (i = 0; i < EMUCXL_NR_NODES; i++) {
		struct emucxl_node *node = &emucxl_nodes[i];
		struct emucxl_node_stats *st = &arg.node[i];

		spin_lock(&emucxl_acct_lock);
		st->allocated = node->allocated;
		st->peak = node->peak;
		spin_unlock(&emucxl_acct_lock);
		st->capacity = node->capacity;
		st->free = min(emucxl_node_room(node),
			       emucxl_node_free_bytes(node->nid, node->movable));
		st->failures = atomic64_read(&node->failures);
		st->allocations = atomic64_read(&node->allocations);
	}
	return copy_to_user(uarg, &arg, sizeof(arg)) ? -EFAULT : 0;
}

static long emucxl_ioctl_info(void __user *uarg)
{
	struct emucxl_info arg;
	bool shared = emucxl_nodes[0].nid == emucxl_nodes[1].nid;
	int i;

	memset(&arg, 0, sizeof(arg));
	arg.abi_version = EMUCXL_ABI_VERSION;
	arg.impl = EMUCXL_IMPL_KMOD;
	arg.caps = EMUCXL_CAP_MMAP | EMUCXL_CAP_PINNED | EMUCXL_CAP_STRICT_NODE;
	arg.page_size = PAGE_SIZE;
	arg.nr_nodes = EMUCXL_NR_NODES;
	for (i = 0; i < EMUCXL_NR_NODES; i++) {
		struct emucxl_node *node = &emucxl_nodes[i];
		struct emucxl_node_info *ni = &arg.node[i];

		ni->physical_node = node->nid;
		ni->flags = (node_state(node->nid, N_CPU) ? EMUCXL_NODE_HAS_CPUS : 0) |
			    (shared ? EMUCXL_NODE_SHARED : 0);
		ni->capacity = node->capacity;
		ni->total = emucxl_node_usable_bytes(node->nid, node->movable);
	}
	return copy_to_user(uarg, &arg, sizeof(arg)) ? -EFAULT : 0;
}

static long emucxl_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct emucxl_file *ef = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case EMUCXL_INIT:
		return emucxl_ioctl_init(file, ef, uarg);
	case EMUCXL_EXIT:
		return emucxl_ioctl_exit(ef, uarg);
	case EMUCXL_ALLOC:
		return emucxl_ioctl_alloc(ef, uarg);
	case EMUCXL_FREE:
		return emucxl_ioctl_free(ef, uarg);
	case EMUCXL_STATS:
		return emucxl_ioctl_stats(uarg);
	case EMUCXL_INFO:
		return emucxl_ioctl_info(uarg);
	default:
		return -ENOTTY;
	}
}

/* ---- mmap ---- */

static void emucxl_vm_open(struct vm_area_struct *vma)
{
	struct emucxl_buf *buf = vma->vm_private_data;

	/* a split, an mremap move or a fork after MADV_DOFORK: one more VMA */
	kref_get(&buf->ref);
}

static void emucxl_vm_close(struct vm_area_struct *vma)
{
	emucxl_buf_put(vma->vm_private_data);
}

/*
 * Pages are inserted at mmap time; a fault only happens after something
 * zapped the PTEs (MADV_DONTNEED). Hand the same page back.
 */
static vm_fault_t emucxl_vm_fault(struct vm_fault *vmf)
{
	struct emucxl_buf *buf = vmf->vma->vm_private_data;
	unsigned long idx = vmf->pgoff - buf->id;

	if (vmf->pgoff < buf->id || idx >= buf->nr_pages)
		return VM_FAULT_SIGBUS;
	get_page(buf->pages[idx]);
	vmf->page = buf->pages[idx];
	return 0;
}

static const struct vm_operations_struct emucxl_vm_ops = {
	.open	= emucxl_vm_open,
	.close	= emucxl_vm_close,
	.fault	= emucxl_vm_fault,
};

static int emucxl_insert_pages(struct vm_area_struct *vma,
			       struct emucxl_buf *buf, unsigned long nr)
{
	unsigned long done = 0;
	int ret;

	while (done < nr) {
		unsigned long batch = min(nr - done, EMUCXL_INSERT_BATCH);
		unsigned long left = batch;

		ret = vm_insert_pages(vma, vma->vm_start + (done << PAGE_SHIFT),
				      buf->pages + done, &left);
		if (ret)
			return ret;
		done += batch;
		cond_resched();
	}
	return 0;
}

/*
 * The offset selects one allocation of this session; the length may be
 * shorter than the allocation (a prefix), never longer.
 */
static int emucxl_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct emucxl_file *ef = file->private_data;
	unsigned long nr = vma_pages(vma);
	struct emucxl_buf *buf;
	int ret;

	/*
	 * VM_MAYSHARE, as udmabuf and dax test: a MAP_SHARED mapping of a file
	 * opened read-only has VM_MAYSHARE without VM_SHARED.
	 */
	if (!(vma->vm_flags & VM_MAYSHARE)) {
		pr_debug_ratelimited("mmap: MAP_PRIVATE refused\n");
		return -EINVAL;
	}

	mutex_lock(&ef->lock);
	buf = xa_load(&ef->bufs, vma->vm_pgoff);
	if (buf)
		kref_get(&buf->ref);
	mutex_unlock(&ef->lock);
	if (!buf) {
		pr_debug_ratelimited("mmap: no allocation at offset %#lx\n",
				     vma->vm_pgoff << PAGE_SHIFT);
		return -EINVAL;
	}
	if (nr > buf->nr_pages) {
		pr_debug_ratelimited("mmap: %lu pages > allocation's %lu\n",
				     nr, buf->nr_pages);
		ret = -EINVAL;
		goto err_put;
	}

	emucxl_vm_flags_set(vma, VM_MIXEDMAP | VM_DONTEXPAND | VM_DONTDUMP |
				 VM_DONTCOPY);
	/*
	 * vm_ops stays the dummy until the pages are in: if insertion fails,
	 * the core unmaps the VMA without calling any close, on every kernel.
	 */
	ret = emucxl_insert_pages(vma, buf, nr);
	if (ret)
		goto err_put;

	/* the VMA owns the reference from here on, emucxl_vm_close drops it */
	vma->vm_private_data = buf;
	vma->vm_ops = &emucxl_vm_ops;
	return 0;

err_put:
	emucxl_buf_put(buf);
	return ret;
}

/* ---- open / release ---- */

static int emucxl_open(struct inode *inode, struct file *file)
{
	struct emucxl_file *ef;

	ef = kzalloc(sizeof(*ef), GFP_KERNEL_ACCOUNT);
	if (!ef)
		return -ENOMEM;
	mutex_init(&ef->lock);
	xa_init_flags(&ef->bufs, XA_FLAGS_ALLOC1);
	file->private_data = ef;	/* replaces misc_open's miscdevice */
	atomic_inc(&emucxl_sessions);
	return 0;
}

/* Last close: no VMA can be left (each holds the file), free it all. */
static int emucxl_release(struct inode *inode, struct file *file)
{
	struct emucxl_file *ef = file->private_data;

	emucxl_file_drop_all(ef);
	xa_destroy(&ef->bufs);
	mutex_destroy(&ef->lock);
	kfree(ef);
	atomic_dec(&emucxl_sessions);
	return 0;
}

static const struct file_operations emucxl_fops = {
	.owner		= THIS_MODULE,
	.open		= emucxl_open,
	.release	= emucxl_release,
	.unlocked_ioctl	= emucxl_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.mmap		= emucxl_mmap,
};

/* ---- sysfs: /sys/class/misc/emucxl/ ---- */

struct emucxl_node_attr {
	struct device_attribute	attr;
	unsigned int		node;	/* logical node */
};

static struct emucxl_node *to_emucxl_node(struct device_attribute *attr)
{
	return &emucxl_nodes[container_of(attr, struct emucxl_node_attr,
					  attr)->node];
}

static ssize_t physical_node_show(struct device *dev,
				  struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n", to_emucxl_node(attr)->nid);
}

static ssize_t capacity_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	return sysfs_emit(buf, "%llu\n", to_emucxl_node(attr)->capacity);
}

static ssize_t allocated_show(struct device *dev, struct device_attribute *attr,
			      char *buf)
{
	struct emucxl_node *node = to_emucxl_node(attr);
	u64 v;

	spin_lock(&emucxl_acct_lock);
	v = node->allocated;
	spin_unlock(&emucxl_acct_lock);
	return sysfs_emit(buf, "%llu\n", v);
}

static ssize_t peak_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	struct emucxl_node *node = to_emucxl_node(attr);
	u64 v;

	spin_lock(&emucxl_acct_lock);
	v = node->peak;
	spin_unlock(&emucxl_acct_lock);
	return sysfs_emit(buf, "%llu\n", v);
}

/* Any write resets the high-water mark to the current usage. */
static ssize_t peak_store(struct device *dev, struct device_attribute *attr,
			  const char *buf, size_t count)
{
	struct emucxl_node *node = to_emucxl_node(attr);

	spin_lock(&emucxl_acct_lock);
	node->peak = node->allocated;
	spin_unlock(&emucxl_acct_lock);
	return count;
}

static ssize_t free_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	struct emucxl_node *node = to_emucxl_node(attr);

	return sysfs_emit(buf, "%llu\n",
			  min(emucxl_node_room(node),
			      emucxl_node_free_bytes(node->nid, node->movable)));
}

static ssize_t failures_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	return sysfs_emit(buf, "%lld\n",
			  (s64)atomic64_read(&to_emucxl_node(attr)->failures));
}

static ssize_t allocations_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lld\n",
			  (s64)atomic64_read(&to_emucxl_node(attr)->allocations));
}

#define EMUCXL_NODE_ATTR(_n, _name, _mode, _store)			\
	static struct emucxl_node_attr emucxl_node##_n##_##_name = {	\
		.attr = __ATTR(_name, _mode, _name##_show, _store),	\
		.node = _n,						\
	}

#define EMUCXL_NODE_GROUP(_n)						\
	EMUCXL_NODE_ATTR(_n, physical_node, 0444, NULL);		\
	EMUCXL_NODE_ATTR(_n, capacity, 0444, NULL);			\
	EMUCXL_NODE_ATTR(_n, allocated, 0444, NULL);			\
	EMUCXL_NODE_ATTR(_n, peak, 0644, peak_store);			\
	EMUCXL_NODE_ATTR(_n, free, 0444, NULL);				\
	EMUCXL_NODE_ATTR(_n, failures, 0444, NULL);			\
	EMUCXL_NODE_ATTR(_n, allocations, 0444, NULL);			\
	static struct attribute *emucxl_node##_n##_attrs[] = {		\
		&emucxl_node##_n##_physical_node.attr.attr,		\
		&emucxl_node##_n##_capacity.attr.attr,			\
		&emucxl_node##_n##_allocated.attr.attr,			\
		&emucxl_node##_n##_peak.attr.attr,			\
		&emucxl_node##_n##_free.attr.attr,			\
		&emucxl_node##_n##_failures.attr.attr,			\
		&emucxl_node##_n##_allocations.attr.attr,		\
		NULL,							\
	};								\
	static const struct attribute_group emucxl_node##_n##_group = {	\
		.name	= "node" #_n,					\
		.attrs	= emucxl_node##_n##_attrs,			\
	}

EMUCXL_NODE_GROUP(0);
EMUCXL_NODE_GROUP(1);

static ssize_t sessions_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	return sysfs_emit(buf, "%d\n", atomic_read(&emucxl_sessions));
}
static DEVICE_ATTR_RO(sessions);

static struct attribute *emucxl_attrs[] = {
	&dev_attr_sessions.attr,
	NULL,
};

static const struct attribute_group emucxl_group = {
	.attrs = emucxl_attrs,
};

static const struct attribute_group *emucxl_groups[] = {
	&emucxl_group,
	&emucxl_node0_group,
	&emucxl_node1_group,
	NULL,
};

static struct miscdevice emucxl_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "emucxl",
	.fops	= &emucxl_fops,
	.groups	= emucxl_groups,
	.mode	= 0600,		/* the udev rule opens it to group emucxl */
};

/* ---- module ---- */

static int emucxl_default_local(void)
{
	int nid;

	for_each_node_state(nid, N_CPU)
		if (node_state(nid, N_MEMORY))
			return nid;
	return first_memory_node;
}

static int emucxl_default_remote(int local)
{
	int nid, other = NUMA_NO_NODE;

	for_each_node_state(nid, N_MEMORY)
		if (nid != local && !node_state(nid, N_CPU))
			return nid;
	for_each_node_state(nid, N_MEMORY)
		if (nid != local)
			other = nid;	/* the highest one */
	return other == NUMA_NO_NODE ? local : other;
}

static int emucxl_node_setup(unsigned int lnode, int nid, ulong *capacity_mb)
{
	struct emucxl_node *node = &emucxl_nodes[lnode];
	bool movable = false;
	u64 usable;

	if (nid < 0 || nid >= nr_node_ids || !node_state(nid, N_MEMORY)) {
		pr_err("logical node %u: %d is not a node with memory\n",
		       lnode, nid);
		return -EINVAL;
	}
	usable = emucxl_node_usable_bytes(nid, false);
	if (!usable && !allow_movable) {
		pr_err("logical node %u: node %d has memory only in ZONE_MOVABLE, which cannot hold pinned pages (allow_movable=0); online it as normal memory (daxctl reconfigure-device --no-movable, vm/run --cxl-online normal) or load with allow_movable=1\n",
		       lnode, nid);
		return -EINVAL;
	}
	if (!usable) {
		movable = true;
		usable = emucxl_node_usable_bytes(nid, true);
		pr_info("logical node %u: node %d is all ZONE_MOVABLE: its pages come from there, pinned; offlining memory that holds them fails with EBUSY\n",
			lnode, nid);
	}
	if (*capacity_mb > (U64_MAX >> 20)) {
		pr_err("logical node %u: capacity %lu MiB is too large\n",
		       lnode, *capacity_mb);
		return -EINVAL;
	}
	/*
	 * Default: most of a memory-only node, which nothing else uses, but
	 * only half of a node with CPUs, where the rest of the system lives.
	 */
	if (!*capacity_mb)
		*capacity_mb = div_u64(usable / 100 *
				       (node_state(nid, N_CPU) ?
					EMUCXL_CPU_PERCENT : EMUCXL_CPULESS_PERCENT),
				       SZ_1M);
	if (!*capacity_mb) {
		pr_err("logical node %u: node %d is smaller than 1 MiB\n",
		       lnode, nid);
		return -EINVAL;
	}

	node->nid = nid;
	node->movable = movable;
	node->capacity = (u64)*capacity_mb << 20;
	node->allocated = 0;
	node->peak = 0;
	atomic64_set(&node->failures, 0);
	atomic64_set(&node->allocations, 0);
	return 0;
}

/* One pool per physical node, shared by the logical nodes on it. */
static void emucxl_pools_setup(void)
{
	unsigned int i, p, nr = 0;

	for (i = 0; i < EMUCXL_NR_NODES; i++) {
		struct emucxl_node *node = &emucxl_nodes[i];
		struct emucxl_pool *pool = NULL;

		for (p = 0; p < nr; p++)
			if (emucxl_pools[p].nid == node->nid)
				pool = &emucxl_pools[p];
		if (!pool) {
			pool = &emucxl_pools[nr++];
			pool->nid = node->nid;
			pool->capacity = 0;
			pool->allocated = 0;
		}
		pool->capacity = max(pool->capacity, node->capacity);
		node->pool = pool;
	}
}

static int __init emucxl_module_init(void)
{
	int ret;

	if (!max_handles) {
		pr_err("max_handles must be at least 1\n");
		return -EINVAL;
	}

	/* the parameters are rewritten with what is in effect */
	if (local_node == NUMA_NO_NODE)
		local_node = emucxl_default_local();
	if (remote_node == NUMA_NO_NODE)
		remote_node = emucxl_default_remote(local_node);

	ret = emucxl_node_setup(EMUCXL_NODE_LOCAL, local_node,
				&local_capacity_mb);
	if (ret)
		return ret;
	ret = emucxl_node_setup(EMUCXL_NODE_REMOTE, remote_node,
				&remote_capacity_mb);
	if (ret)
		return ret;

	emucxl_pools_setup();

	ret = emucxl_hotplug_init();
	if (ret) {
		pr_err("cannot register the memory notifier: %d\n", ret);
		return ret;
	}
	ret = misc_register(&emucxl_misc);
	if (ret) {
		pr_err("cannot register /dev/emucxl: %d\n", ret);
		emucxl_hotplug_exit();
		return ret;
	}

	pr_info("logical 0 -> node %d (%lu MiB), logical 1 -> node %d (%lu MiB)%s\n",
		local_node, local_capacity_mb, remote_node, remote_capacity_mb,
		local_node == remote_node ? ", remote is not separate" : "");
	return 0;
}

static void __exit emucxl_module_exit(void)
{
	/* no session is left: each open file holds a module reference */
	misc_deregister(&emucxl_misc);
	emucxl_hotplug_exit();
}

module_init(emucxl_module_init);
module_exit(emucxl_module_exit);

MODULE_DESCRIPTION("emucxl: emulated CXL memory, node-placed and pinned, via /dev/emucxl");
MODULE_AUTHOR("emucxl project");
MODULE_LICENSE("GPL");
MODULE_VERSION("0.1.0");
