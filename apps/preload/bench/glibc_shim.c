/* SPDX-License-Identifier: Apache-2.0 */
/*
 * glibc_shim.c - libemucxl-glibc-shim.so, for the redis benchmark only:
 * Debian's redis-server links jemalloc, so "redis on plain glibc" needs
 * glibc's malloc put in front of it. Each call goes to glibc's own entry
 * points (__libc_*, and malloc_usable_size looked up in libc.so.6 itself).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

#define API __attribute__((visibility("default")))

API void *malloc(size_t n) { return __libc_malloc(n); }
API void *calloc(size_t n, size_t m) { return __libc_calloc(n, m); }
API void *realloc(void *p, size_t n) { return __libc_realloc(p, n); }
API void free(void *p) { __libc_free(p); }
API void *memalign(size_t a, size_t n) { return __libc_memalign(a, n); }
API void *aligned_alloc(size_t a, size_t n) { return __libc_memalign(a, n); }

API int posix_memalign(void **out, size_t a, size_t n)
{
	void *p = __libc_memalign(a, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

API size_t malloc_usable_size(void *p)
{
	static size_t (*fn)(void *);
	if (!fn) {
		void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
		fn = libc ? (size_t (*)(void *))dlsym(libc, "malloc_usable_size") : NULL;
	}
	return fn ? fn(p) : 0;
}
