/* SPDX-License-Identifier: Apache-2.0 */
/*
 * emucxl.h - the emucxl C API: place memory on local DRAM (node 0) or on the
 * emulated CXL-attached, CPU-less remote node (node 1).
 *
 * The first part is the standard API of the EmuCXL paper, with precise
 * semantics. The second part ("extended API") is emucxl's own and clearly
 * separated so that programs written for the paper use only the first.
 *
 * Error convention: calls that fail return NULL / false / -1 / 0 as listed
 * and set errno:
 *   EINVAL  bad argument: size 0, node not 0/1, NULL, an address that is not
 *           an emucxl allocation, a free() size that does not match.
 *   ENOMEM  no memory on that node, or the node's capacity is used up.
 *   ERANGE  read/write/memset/memcpy/memmove range runs past the end of the
 *           emucxl allocation it starts in; nothing was touched.
 *   ENODEV  the library is not initialised (before emucxl_init or after the
 *           last emucxl_exit).
 * A message at EMUCXL_LOG level (default "warn") says what was wrong.
 */
#ifndef EMUCXL_EMUCXL_H
#define EMUCXL_EMUCXL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define EMUCXL_API __attribute__((visibility("default")))
#else
#define EMUCXL_API
#endif

/* C++ callers know that no call throws (the library catches nothing
 * because nothing in it throws across this boundary; a bug that did would
 * terminate, not unwind into C frames). */
#ifdef __cplusplus
#define EMUCXL_NOEXCEPT noexcept
#else
#define EMUCXL_NOEXCEPT
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define EMUCXL_LOCAL_NODE  0 /* logical node 0: local DRAM */
#define EMUCXL_REMOTE_NODE 1 /* logical node 1: emulated CXL / remote memory */

/* ---- standard API (EmuCXL paper) ---------------------------------------- */

/*
 * Select and open the driver (EMUCXL_BACKEND) and read the configuration.
 * Reference counted: every successful emucxl_init() needs one emucxl_exit().
 * Returns 0, or -1 with errno set (the driver asked for is not available,
 * bad configuration). Thread-safe.
 */
EMUCXL_API int emucxl_init(void) EMUCXL_NOEXCEPT;

/* The last exit frees everything still allocated and closes the driver. */
EMUCXL_API void emucxl_exit(void) EMUCXL_NOEXCEPT;

/*
 * Allocate size bytes, zero-filled, on logical node `node` (0 local, 1 remote).
 * NULL with EINVAL for size 0 or a bad node, ENOMEM when the node has no room.
 */
EMUCXL_API void *emucxl_alloc(size_t size, int node) EMUCXL_NOEXCEPT;

/*
 * Free an allocation. size must equal the allocated size, or be 0 ("the whole
 * allocation"). A wrong size, an unknown or already freed address: nothing is
 * freed and errno is EINVAL.
 */
EMUCXL_API void emucxl_free(void *address, size_t size) EMUCXL_NOEXCEPT;

/*
 * Resize on the same node, keeping the contents up to the smaller size; bytes
 * past the old size read as zero. May return the same address. On failure
 * NULL, and the old block is untouched.
 */
EMUCXL_API void *emucxl_resize(void *address, size_t size) EMUCXL_NOEXCEPT;

/*
 * Move the contents to `node` and return the (possibly same) address; the old
 * block is freed. On failure NULL, and the old block is untouched.
 */
EMUCXL_API void *emucxl_migrate(void *address, int node) EMUCXL_NOEXCEPT;

/*
 * Queries accept any address inside an allocation (interior pointers).
 * Unknown address: false / -1 / 0 with errno EINVAL.
 */
EMUCXL_API bool emucxl_is_local(void *address) EMUCXL_NOEXCEPT;
EMUCXL_API int emucxl_get_numa_node(void *address) EMUCXL_NOEXCEPT; /* logical node: 0 or 1 */
EMUCXL_API size_t emucxl_get_size(void *address) EMUCXL_NOEXCEPT;   /* the size asked for */

/* Bytes this process has allocated on `node`, counted as requested sizes. */
EMUCXL_API size_t emucxl_stats(int node) EMUCXL_NOEXCEPT;

/*
 * Copy n bytes from addr+offset into buf (read) or from buf to addr+offset
 * (write). When addr lies in an emucxl allocation, the whole range must lie in
 * that allocation, or the call fails with ERANGE and touches nothing.
 */
EMUCXL_API bool emucxl_read(void *addr, int offset, void *buf, size_t n) EMUCXL_NOEXCEPT;
EMUCXL_API bool emucxl_write(void *buf, int offset, void *addr, size_t n) EMUCXL_NOEXCEPT;

/*
 * As their libc namesakes (memmove handles overlap), with the same bounds
 * check for every argument that lies in an emucxl allocation: NULL + ERANGE
 * when a range runs past the end of its allocation, NULL + EINVAL for a NULL
 * pointer with n > 0.
 */
EMUCXL_API void *emucxl_memset(void *addr, int value, size_t n) EMUCXL_NOEXCEPT;
EMUCXL_API void *emucxl_memcpy(void *dst, const void *src, size_t n) EMUCXL_NOEXCEPT;
EMUCXL_API void *emucxl_memmove(void *dst, const void *src, size_t n) EMUCXL_NOEXCEPT;

/* ---- extended API (emucxl) ---------------------------------------------- */

/* Name of the selected driver ("mbind", "kmod", "cuse"), or NULL + ENODEV. */
EMUCXL_API const char *emucxl_driver_name(void) EMUCXL_NOEXCEPT;

struct emucxl_node_info {
	int32_t physical_node;  /* NUMA node id behind this logical node */
	uint32_t reserved;
	uint64_t capacity;      /* bytes this driver lets us place there */
};

/*
 * Versioned by size: the caller sets struct_size to sizeof(struct
 * emucxl_info) as it was compiled (0 means "this header's size", for callers
 * written before it was an input); the library writes at most that many
 * bytes, the fields both know, and sets struct_size to how many it wrote.
 * Fields are only ever added at the end.
 */
struct emucxl_info {
	uint32_t struct_size;          /* in: the caller's size; out: bytes written */
	uint32_t api_version;          /* EMUCXL_API_VERSION */
	char driver[16];               /* NUL-terminated driver name */
	struct emucxl_node_info node[2]; /* [0] local, [1] remote */
	bool remote_is_separate;       /* false: remote shares local's physical node */
	bool pinned;                   /* memory is locked (not swappable) */
};

#define EMUCXL_API_VERSION 1

/*
 * Fill *info (see struct_size). Returns 0, or -1 with errno (EINVAL for NULL
 * or a struct_size smaller than the first two fields, ENODEV).
 */
EMUCXL_API int emucxl_get_info(struct emucxl_info *info) EMUCXL_NOEXCEPT;

/*
 * Driver-wide usage of a logical node, across all clients of the device for
 * kmod/cuse, this process for mbind. Returns 0 or -1 with errno.
 */
struct emucxl_node_usage {
	uint64_t allocated; /* bytes held by the driver (page granular) */
	uint64_t peak;      /* high-water mark of allocated */
	uint64_t capacity;  /* limit */
	uint64_t free;      /* what can still be placed there */
};
EMUCXL_API int emucxl_get_usage(int node, struct emucxl_node_usage *usage) EMUCXL_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif /* EMUCXL_EMUCXL_H */
