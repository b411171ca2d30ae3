/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * emucxl_hotplug.h - emucxl.ko and memory offlining: which pages the module
 * holds, so that offlining memory that holds them fails at once (EBUSY)
 * instead of looping on pages the kernel cannot migrate. See
 * emucxl_hotplug.c.
 */
#ifndef EMUCXL_HOTPLUG_H
#define EMUCXL_HOTPLUG_H

#include <linux/list.h>
#include <linux/mm_types.h>

/* The pages of one allocation, as the offline check sees them. */
struct emucxl_tracked {
	struct list_head	link;		/* on the global list while tracked */
	struct page		**pages;	/* nr order-0 pages */
	unsigned long		nr;
};

int emucxl_hotplug_init(void);
void emucxl_hotplug_exit(void);

/* Around allocating pages and tracking them: an offline check waits. */
void emucxl_hotplug_alloc_begin(void);
void emucxl_hotplug_alloc_end(void);

void emucxl_hotplug_track(struct emucxl_tracked *t);
void emucxl_hotplug_untrack(struct emucxl_tracked *t);

#endif /* EMUCXL_HOTPLUG_H */
