// SPDX-License-Identifier: GPL-2.0-only
/*
 * emucxl_hotplug.c - what emucxl.ko does when memory it holds is offlined.
 *
 * CXL memory is usually onlined into ZONE_MOVABLE (daxctl's default), and
 * such a node has no other memory. emucxl.ko hands out pinned pages (mapped
 * with vm_insert_pages(), off the LRU, never migrated): that is the device's
 * contract, the memory stays on the node asked for. On a movable-only node
 * it takes them from ZONE_MOVABLE (allow_movable, see emucxl_main.c), which
 * breaks ZONE_MOVABLE's promise that its memory can always be offlined:
 * the kernel does not check ZONE_MOVABLE for unmovable pages when it
 * isolates a range (has_unmovable_pages() trusts the zone), and would then
 * retry migrating pages it can never move until the offlining task is
 * killed.
 *
 * So the module keeps the promise's other half: offlining either succeeds
 * or fails at once. A memory notifier refuses MEM_GOING_OFFLINE with EBUSY
 * while any page the module holds lies in the range, and says so in the
 * log. With no emucxl pages in the range (no clients, or their memory freed)
 * offlining goes ahead. In ZONE_NORMAL the kernel itself refuses such a
 * range when it isolates it (the pages are unmovable); the notifier then
 * never sees it.
 *
 * Locking: emucxl_alloc_sem is taken for reading around an allocation (its
 * pages are not tracked yet) and for writing by the offline check, which
 * thus never misses pages allocated before the range was isolated; pages
 * allocated after isolation cannot come from the range. emucxl_track_lock
 * (spinlock) guards the list.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/memory.h>
#include <linux/mm.h>
#include <linux/notifier.h>
#include <linux/printk.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>

#include "emucxl_hotplug.h"

static DECLARE_RWSEM(emucxl_alloc_sem);
static DEFINE_SPINLOCK(emucxl_track_lock);
static LIST_HEAD(emucxl_tracked_list);

void emucxl_hotplug_alloc_begin(void)
{
	down_read(&emucxl_alloc_sem);
}

void emucxl_hotplug_alloc_end(void)
{
	up_read(&emucxl_alloc_sem);
}

void emucxl_hotplug_track(struct emucxl_tracked *t)
{
	spin_lock(&emucxl_track_lock);
	list_add(&t->link, &emucxl_tracked_list);
	spin_unlock(&emucxl_track_lock);
}

void emucxl_hotplug_untrack(struct emucxl_tracked *t)
{
	spin_lock(&emucxl_track_lock);
	list_del(&t->link);
	spin_unlock(&emucxl_track_lock);
}

/* Pages the module holds in [start, end) (pfns). */
static unsigned long emucxl_pages_in(unsigned long start, unsigned long end)
{
	struct emucxl_tracked *t;
	unsigned long n = 0, i, pfn;

	down_write(&emucxl_alloc_sem);
	spin_lock(&emucxl_track_lock);
	list_for_each_entry(t, &emucxl_tracked_list, link) {
		for (i = 0; i < t->nr; i++) {
			pfn = page_to_pfn(t->pages[i]);
			if (pfn >= start && pfn < end)
				n++;
		}
	}
	spin_unlock(&emucxl_track_lock);
	up_write(&emucxl_alloc_sem);
	return n;
}

static int emucxl_memory_callback(struct notifier_block *nb,
				  unsigned long action, void *data)
{
	struct memory_notify *mn = data;
	unsigned long busy;

	if (action != MEM_GOING_OFFLINE)
		return NOTIFY_OK;
	busy = emucxl_pages_in(mn->start_pfn, mn->start_pfn + mn->nr_pages);
	if (!busy)
		return NOTIFY_OK;
	pr_info_ratelimited("refusing to offline [mem %#010llx-%#010llx]: %lu pages there are held by emucxl clients (pinned); end them or free their memory first\n",
			    PFN_PHYS(mn->start_pfn),
			    PFN_PHYS(mn->start_pfn + mn->nr_pages) - 1, busy);
	return notifier_from_errno(-EBUSY);
}

static struct notifier_block emucxl_memory_nb = {
	.notifier_call	= emucxl_memory_callback,
};

int emucxl_hotplug_init(void)
{
	return register_memory_notifier(&emucxl_memory_nb);
}

void emucxl_hotplug_exit(void)
{
	unregister_memory_notifier(&emucxl_memory_nb);
}
