/* SPDX-License-Identifier: Apache-2.0 */
/*
 * malloc_chase MIB LOADS: an unmodified program (plain malloc, nothing of
 * emucxl) that chases pointers through MIB MiB, one pointer per 64-byte line
 * in a random cyclic order, and prints "ns_per_load X" for LOADS dependent
 * loads. Under `emucxlctl run --node local|remote` in the timed guest its
 * buffer lands on that node, and the ratio of the two runs shows whether a
 * preloaded program runs at the remote tier's speed
 * (tests/vm-timing/preload_speed.sh).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define LINE 64

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	size_t mib, loads, lines, i;
	uint32_t *order;
	uint64_t x = 88172645463325252ull; /* xorshift64: same order every run */
	char *buf, *p;
	double t0, t1;

	if (argc != 3 || (mib = strtoul(argv[1], NULL, 10)) == 0 ||
	    (loads = strtoul(argv[2], NULL, 10)) == 0) {
		fprintf(stderr, "usage: malloc_chase MIB LOADS\n");
		return 2;
	}
	lines = (mib << 20) / LINE;
	buf = malloc(mib << 20);
	order = malloc(lines * sizeof(*order));
	if (!buf || !order) {
		fprintf(stderr, "malloc_chase: out of memory\n");
		return 1;
	}
	for (i = 0; i < lines; i++)
		order[i] = (uint32_t)i;
	for (i = lines - 1; i > 1; i--) { /* Fisher-Yates over [1, i] */
		size_t j;
		uint32_t t;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		j = 1 + (size_t)(x % i);
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (i = 0; i < lines; i++)
		*(char **)(buf + (size_t)order[i] * LINE) = buf + (size_t)order[(i + 1) % lines] * LINE;
	free(order);
	p = buf;
	for (i = 0; i < loads / 4; i++) /* warm the TLBs */
		p = *(char *volatile *)p;
	t0 = now_ns();
	for (i = 0; i < loads; i++)
		p = *(char *volatile *)p;
	t1 = now_ns();
	printf("ns_per_load %.2f%s\n", (t1 - t0) / (double)loads, p ? "" : " ");
	free(buf);
	return 0;
}
