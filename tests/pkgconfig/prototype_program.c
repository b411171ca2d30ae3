/* SPDX-License-Identifier: Apache-2.0 */
/*
 * prototype_program.c - a program written against the original EmuCXL
 * prototype's header as published (github.com/cloudarxiv/emucxl,
 * src/emucxl_lib.h): its signatures for resize, migrate, memset, read and
 * write, its PAGE_SIZE, data_t list helpers and Key_value. It is compiled
 * against the *installed* library with nothing but `pkg-config --cflags
 * --libs emucxl` (tests/pkgconfig/run), and checks that every call does what
 * it did in the prototype, and that bad input is an error, not a crash.
 */
#define LOCAL_MEMORY 0
#define REMOTE_MEMORY 1
#include "emucxl_lib.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int failures;

#define CHECK(cond)                                                        \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "FAILED line %d: %s\n", __LINE__, #cond); \
			failures++;                                        \
		}                                                          \
	} while (0)

/* the prototype's queue: nodes on remote memory */
struct node {
	int value;
	struct node *next;
};

int main(void)
{
	emucxl_init(); /* void, as in the prototype */
	CHECK(PAGE_SIZE == 4096 && strcmp(dev_file, "/dev/emucxl") == 0);

	struct node *head = NULL;
	for (int i = 0; i < 1000; i++) {
		struct node *n = emucxl_alloc(sizeof(*n), REMOTE_MEMORY);
		CHECK(n != NULL);
		if (!n)
			return 1;
		CHECK(n->value == 0 && n->next == NULL); /* zero-filled */
		n->value = i;
		n->next = head;
		head = n;
	}
	CHECK(emucxl_stats(REMOTE_MEMORY) == 1000 * sizeof(struct node));
	CHECK(emucxl_stats(LOCAL_MEMORY) == 0);
	CHECK(!emucxl_is_local(head));
	CHECK(emucxl_get_numa_node(head) == REMOTE_MEMORY);
	CHECK(emucxl_get_size(head) == sizeof(struct node));

	/* migrate(ptr, newnode, size): contents and stats follow */
	struct node *moved = emucxl_migrate(head, LOCAL_MEMORY, sizeof(*head));
	CHECK(moved != NULL && moved->value == 999 && emucxl_is_local(moved));
	CHECK(emucxl_stats(LOCAL_MEMORY) == sizeof(struct node));
	if (moved)
		head = moved;
	errno = 0;
	CHECK(emucxl_migrate(head, REMOTE_MEMORY, 3) == NULL && errno == EINVAL);

	/* write(ptr, start, buffer, size): ptr[i] = buffer[i], i in [start, size) */
	char *page = emucxl_alloc(PAGE_SIZE, LOCAL_MEMORY);
	char src[64], dst[64];
	for (int i = 0; i < 64; i++)
		src[i] = (char)('A' + i % 26);
	CHECK(page != NULL && emucxl_write(page, 10, src, 20));
	CHECK(page[9] == 0 && page[10] == src[10] && page[19] == src[19] && page[20] == 0);
	/* read(ptr, start, buffer, size): buffer[i] = ptr[i], same index */
	memset(dst, '.', sizeof(dst));
	CHECK(emucxl_read(page, 12, dst, 18));
	CHECK(dst[11] == '.' && dst[12] == src[12] && dst[17] == src[17] && dst[18] == '.');
	/* memset(ptr, start, value, size): bytes [start, size) */
	CHECK(emucxl_memset(page, 100, 'x', 200) == page);
	CHECK(page[99] == 0 && page[100] == 'x' && page[199] == 'x' && page[200] == 0);
	CHECK(emucxl_memcpy(dst, page + 100, 8) == dst && dst[7] == 'x');
	CHECK(emucxl_memmove(page + 101, page + 100, 100) == page + 101);

	/* bad ranges: an error with errno, nothing touched */
	errno = 0;
	CHECK(!emucxl_read(page, 0, dst, PAGE_SIZE + 1) && errno == ERANGE);
	errno = 0;
	CHECK(!emucxl_write(page, 30, src, 20) && errno == EINVAL); /* start > size */
	errno = 0;
	CHECK(!emucxl_write(page, -1, src, 20) && errno == EINVAL);
	errno = 0;
	CHECK(emucxl_memset(page, 0, 'y', PAGE_SIZE + 64) == NULL && errno == ERANGE);
	CHECK(page[0] == 0);
	CHECK(!emucxl_read(NULL, 0, dst, 8) && !emucxl_write(page, 0, NULL, 8));

	/* resize(ptr, node, oldsize, newsize): to the node given, contents kept */
	char *big = emucxl_resize(page, REMOTE_MEMORY, PAGE_SIZE, 4 * PAGE_SIZE);
	CHECK(big != NULL && !emucxl_is_local(big) && big[100] == 'x' && big[10] == src[10]);
	CHECK(big != NULL && big[4 * PAGE_SIZE - 1] == 0);
	CHECK(emucxl_get_size(big) == 4 * PAGE_SIZE);
	char *small = emucxl_resize(big, LOCAL_MEMORY, 4 * PAGE_SIZE, 64);
	CHECK(small != NULL && emucxl_is_local(small) && small[10] == src[10]);
	errno = 0;
	CHECK(emucxl_resize(small, LOCAL_MEMORY, 65, 128) == NULL && errno == EINVAL);
	CHECK(emucxl_get_size(small) == 64); /* the old block is untouched */

	/* the prototype's allocation records */
	data_t **records = dataAlloc();
	CHECK(records != NULL && *records == NULL);
	addItem(records, head, (int)sizeof(*head), LOCAL_MEMORY);
	addItem(records, small, 64, LOCAL_MEMORY);
	addItem(records, head->next, (int)sizeof(*head), REMOTE_MEMORY);
	CHECK(getItem(records, small) == small && getSize(records, small) == 64);
	CHECK(getNumaNode(records, head->next) == REMOTE_MEMORY);
	CHECK(getSizeOfAllocatedMemory(records, LOCAL_MEMORY) == (int)sizeof(*head) + 64);
	deleteItem(records, small);
	CHECK(getItem(records, small) == NULL && getNumaNode(records, small) == -1);
	dataFree(records);

	/* the prototype's key-value record type */
	Key_value *kv = emucxl_alloc(sizeof(Key_value), REMOTE_MEMORY);
	CHECK(kv != NULL && sizeof(kv->key) == 50);
	if (kv) {
		strcpy(kv->key, "answer");
		kv->value = 42;
		CHECK(emucxl_get_numa_node(kv) == REMOTE_MEMORY);
		emucxl_free(kv, sizeof(Key_value));
	}

	emucxl_free(small, 64);
	errno = 0;
	emucxl_free(small, 64);
	CHECK(errno == EINVAL);
	while (head) {
		struct node *next = head->next;
		emucxl_free(head, sizeof(*head));
		head = next;
	}
	CHECK(emucxl_stats(LOCAL_MEMORY) == 0 && emucxl_stats(REMOTE_MEMORY) == 0);
	emucxl_exit();

	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("prototype program: all checks passed\n");
	return 0;
}
