/* SPDX-License-Identifier: Apache-2.0 */
/*
 * emucxl_lib.h - source compatibility with the original EmuCXL prototype
 * (github.com/cloudarxiv/emucxl, src/emucxl_lib.h): the prototype's own
 * declarations, signatures and semantics, so that a program written for it
 * compiles unchanged with `pkg-config --cflags --libs emucxl` and does what
 * it did there.
 *
 * Five calls differ from the paper's table, which <emucxl/emucxl.h> keeps:
 *   emucxl_resize(ptr, node, oldsize, newsize)   moves to `node` as it resizes
 *   emucxl_migrate(ptr, newnode, size)           size = the allocation's size
 *   emucxl_memset(ptr, start_index, value, size) sets bytes [start_index, size)
 *   emucxl_read(ptr, start_index, buffer, size)  buffer[i] = ptr[i]
 *   emucxl_write(ptr, start_index, buffer, size) ptr[i] = buffer[i]
 *                         (both for i in [start_index, size): the same index
 *                         on both sides, and write copies buffer -> ptr)
 * C has no overloading, so this header and <emucxl/emucxl.h> cannot both be
 * included: each of these names is bound here (an asm label) to its own
 * exported symbol, emucxl_proto_*, that implements the prototype's meaning
 * on top of the library. The other calls are the library's own.
 *
 * Where the prototype crashed or exit()ed, the library reports instead:
 * emucxl_init() logs why the driver cannot run (EMUCXL_LOG) and the calls
 * after it fail with ENODEV; bad pointers and out-of-range indexes fail with
 * errno (EINVAL, ERANGE) and touch nothing; resize copies at most the
 * smaller size (the prototype copied oldsize, past a smaller new block).
 */
#ifndef EMUCXL_LIB_H
#define EMUCXL_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>
#include <unistd.h>

#ifdef EMUCXL_EMUCXL_H
#error "emucxl_lib.h (the prototype's API) and <emucxl/emucxl.h> (the paper's) cannot be used together"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define EMUCXL_PROTO(name) __asm__("emucxl_proto_" #name)
#else
#error "emucxl_lib.h needs GCC or Clang (asm labels)"
#endif

#ifndef PAGE_SIZE
#define PAGE_SIZE 4096
#endif

/* The prototype's node names are the program's own; these are defaults. */
#ifndef LOCAL_MEMORY
#define LOCAL_MEMORY 0
#endif
#ifndef REMOTE_MEMORY
#define REMOTE_MEMORY 1
#endif

/* "/dev/emucxl": the prototype's device. The library chooses its driver by
 * EMUCXL_BACKEND; assigning this changes nothing. */
extern const char *dev_file EMUCXL_PROTO(dev_file);

/* The prototype's allocation record (a singly linked list). */
typedef struct data {
	void *address;
	int size;
	int numa_node; /* 0 for local memory, 1 for remote memory */
	struct data *next;
} data_t;

/* The prototype's key-value record (its KV store's entries). */
typedef struct Key_value {
	char key[50];
	int value;
	struct Key_value *next;
} Key_value;

void emucxl_init(void) EMUCXL_PROTO(init);
void *emucxl_alloc(size_t size, int node);
void emucxl_free(void *ptr, size_t size);
void *emucxl_resize(void *ptr, int node, size_t oldsize, size_t newsize) EMUCXL_PROTO(resize);
void *emucxl_migrate(void *ptr, int newnode, size_t size) EMUCXL_PROTO(migrate);
void emucxl_exit(void);

/* Read data from memory to buffer: start_index is the first byte read. */
bool emucxl_read(void *ptr, int start_index, void *buffer, size_t size) EMUCXL_PROTO(read);
/* Write data from buffer to memory: start_index is the first byte written. */
bool emucxl_write(void *ptr, int start_index, void *buffer, size_t size) EMUCXL_PROTO(write);
void *emucxl_memset(void *ptr, int start_index, int value, size_t size) EMUCXL_PROTO(memset);
void *emucxl_memcpy(void *dest, const void *src, size_t size);
void *emucxl_memmove(void *dest, const void *src, size_t size);

bool emucxl_is_local(void *ptr);
int emucxl_get_numa_node(void *ptr);
size_t emucxl_get_size(void *ptr);
size_t emucxl_stats(int numa_node);

/*
 * The prototype's list of data_t records, as it declared them. dataAlloc()
 * returns an empty list (the prototype left its head uninitialised);
 * dataFree() frees the records too (the prototype leaked them).
 */
data_t **dataAlloc(void) EMUCXL_PROTO(dataAlloc);
void dataFree(data_t **data) EMUCXL_PROTO(dataFree);
void *getItem(data_t **data, void *address) EMUCXL_PROTO(getItem);
void deleteItem(data_t **data, void *address) EMUCXL_PROTO(deleteItem);
void addItem(data_t **data, void *address, int size, int numa_node) EMUCXL_PROTO(addItem);
size_t getSize(data_t **data, void *address) EMUCXL_PROTO(getSize);
int getNumaNode(data_t **data, void *address) EMUCXL_PROTO(getNumaNode);
int getSizeOfAllocatedMemory(data_t **data, int numa_node) EMUCXL_PROTO(getSizeOfAllocatedMemory);

#undef EMUCXL_PROTO

#ifdef __cplusplus
}
#endif

#endif /* EMUCXL_LIB_H */
