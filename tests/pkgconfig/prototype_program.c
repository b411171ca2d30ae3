/* SPDX-License-Identifier: Apache-2.0 */
/*
 * prototype_program.c - a program written the way programs for the original
 * EmuCXL prototype were: it includes "emucxl_lib.h", defines its own node
 * names, and uses only the paper's calls. It is compiled against the
 * *installed* library with nothing but `pkg-config --cflags --libs emucxl`
 * (tests/pkgconfig/run), and checks that every call behaves as stated.
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

struct node {
	int value;
	struct node *next;
};

int main(void)
{
	emucxl_init(); /* the prototype's callers ignore the result */

	/* a linked list on the remote node, as the paper's queue does */
	struct node *head = NULL;
	for (int i = 0; i < 1000; i++) {
		struct node *n = emucxl_alloc(sizeof(*n), REMOTE_MEMORY);
		CHECK(n != NULL);
		CHECK(n->value == 0 && n->next == NULL); /* zero-filled */
		n->value = i;
		n->next = head;
		head = n;
	}
	CHECK(emucxl_stats(REMOTE_MEMORY) == 1000 * sizeof(struct node));
	CHECK(emucxl_stats(LOCAL_MEMORY) == 0);
	CHECK(!emucxl_is_local(head));
	CHECK(emucxl_get_numa_node((char *)head + 4) == REMOTE_MEMORY);
	CHECK(emucxl_get_size(head) == sizeof(struct node));

	/* migrate one node to local memory: contents and stats follow */
	struct node *moved = emucxl_migrate(head, LOCAL_MEMORY);
	CHECK(moved != NULL && moved->value == 999 && emucxl_is_local(moved));
	CHECK(emucxl_stats(LOCAL_MEMORY) == sizeof(struct node));
	head = moved;

	/* read / write / mem* with bounds */
	char *buf = emucxl_alloc(64, LOCAL_MEMORY);
	char text[] = "emucxl";
	CHECK(emucxl_write(text, 10, buf, sizeof(text)));
	char out[16] = {0};
	CHECK(emucxl_read(buf, 10, out, sizeof(text)));
	CHECK(strcmp(out, "emucxl") == 0);
	errno = 0;
	CHECK(!emucxl_read(buf, 60, out, 8) && errno == ERANGE);
	CHECK(emucxl_memset(buf, 'x', 64) == buf);
	CHECK(emucxl_memcpy(out, buf, 8) == out && out[7] == 'x');
	CHECK(emucxl_memmove(buf + 1, buf, 32) == buf + 1);
	buf = emucxl_resize(buf, 4096);
	CHECK(buf != NULL && buf[0] == 'x' && buf[4095] == 0);

	/* bad input: an error, not a crash */
	errno = 0;
	CHECK(emucxl_alloc(0, LOCAL_MEMORY) == NULL && errno == EINVAL);
	errno = 0;
	CHECK(emucxl_alloc(16, 2) == NULL && errno == EINVAL);
	errno = 0;
	emucxl_free(buf, 1);
	CHECK(errno == EINVAL);

	emucxl_free(buf, 4096);
	errno = 0;
	emucxl_free(buf, 4096);
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
	printf("prototype program: all checks passed on the %s driver\n",
	       "installed library's default");
	return 0;
}
