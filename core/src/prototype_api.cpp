// SPDX-License-Identifier: Apache-2.0
// The original EmuCXL prototype's API (core/include/emucxl_lib.h), on top of
// the library's own: the calls whose signature or meaning differ from the
// paper's table, exported as emucxl_proto_* (emucxl_lib.h binds the
// prototype's names to them), and the prototype's data_t list helpers.
// Everything goes through the public C API, so bounds, node and size checks
// (and their errno and log messages) are the library's.
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "emucxl/emucxl.h"
#include "log.hpp"

namespace {

// The prototype's data_t, as emucxl_lib.h declares it (that header cannot
// be included here: its emucxl_read/... clash with emucxl.h's).
struct data_t {
	void *address;
	int size;
	int numa_node;
	data_t *next;
};

// [start_index, size) as the prototype's loops walk it: a negative start or
// one past size is the caller's bug; start == size is an empty, valid range.
bool proto_range(const char *fn, int start_index, size_t size, size_t *n)
{
	if (start_index < 0 || static_cast<size_t>(start_index) > size) {
		LOG_WARN("%s: start_index %d is outside [0, size %zu]", fn, start_index, size);
		errno = EINVAL;
		return false;
	}
	*n = size - static_cast<size_t>(start_index);
	return true;
}

} // namespace

extern "C" {

EMUCXL_API const char *emucxl_proto_dev_file = "/dev/emucxl";

// The prototype exit()ed when it could not open its device; a library must
// not, so it says why and the calls that follow fail with ENODEV.
EMUCXL_API void emucxl_proto_init(void)
{
	if (emucxl_init() != 0)
		LOG_ERROR("emucxl_init: %s; the emucxl calls that follow fail with ENODEV",
			  std::strerror(errno));
}

// A new block of newsize on `node` with the old contents (up to the smaller
// size), the old block freed; on failure NULL and the old block untouched.
EMUCXL_API void *emucxl_proto_resize(void *ptr, int node, size_t oldsize, size_t newsize)
{
	if (!ptr || emucxl_get_size(ptr) != oldsize) {
		LOG_WARN("emucxl_resize(%p, %d, %zu, %zu): oldsize is not the size of a live "
			 "allocation at ptr",
			 ptr, node, oldsize, newsize);
		errno = EINVAL;
		return nullptr;
	}
	void *p = emucxl_alloc(newsize, node);
	if (!p)
		return nullptr;
	std::memcpy(p, ptr, std::min(oldsize, newsize));
	emucxl_free(ptr, oldsize);
	return p;
}

// The paper's migrate, with the prototype's size argument checked: it must
// be the allocation's size (the prototype copied and freed that many bytes).
EMUCXL_API void *emucxl_proto_migrate(void *ptr, int newnode, size_t size)
{
	if (!ptr || emucxl_get_size(ptr) != size) {
		LOG_WARN("emucxl_migrate(%p, %d, %zu): size is not the size of a live "
			 "allocation at ptr",
			 ptr, newnode, size);
		errno = EINVAL;
		return nullptr;
	}
	return emucxl_migrate(ptr, newnode);
}

// The prototype's read and write: bytes [start_index, size) at the same
// index on both sides, ptr -> buffer (read) or buffer -> ptr (write). The
// prototype returned false for NULL pointers and size 0.
static bool proto_copy(const char *fn, void *ptr, int start_index, void *buffer, size_t size, bool to_ptr)
{
	size_t n = 0;
	if (!ptr || !buffer || size == 0) {
		errno = EINVAL;
		return false;
	}
	if (!proto_range(fn, start_index, size, &n))
		return false;
	char *at = static_cast<char *>(buffer) + start_index;
	if (n == 0)
		return true;
	return to_ptr ? emucxl_write(at, start_index, ptr, n) : emucxl_read(ptr, start_index, at, n);
}

EMUCXL_API bool emucxl_proto_read(void *ptr, int start_index, void *buffer, size_t size)
{
	return proto_copy("emucxl_read", ptr, start_index, buffer, size, false);
}

EMUCXL_API bool emucxl_proto_write(void *ptr, int start_index, void *buffer, size_t size)
{
	return proto_copy("emucxl_write", ptr, start_index, buffer, size, true);
}

// ptr[i] = value for i in [start_index, size); returns ptr, NULL on error
// (the prototype returned NULL for a NULL ptr and size 0).
EMUCXL_API void *emucxl_proto_memset(void *ptr, int start_index, int value, size_t size)
{
	size_t n = 0;
	if (!ptr || size == 0) {
		errno = EINVAL;
		return nullptr;
	}
	if (!proto_range("emucxl_memset", start_index, size, &n))
		return nullptr;
	if (n && !emucxl_memset(static_cast<char *>(ptr) + start_index, value, n))
		return nullptr;
	return ptr;
}

// ---- the prototype's allocation records (plain malloc, as there) --------

EMUCXL_API data_t **emucxl_proto_dataAlloc(void)
{
	return static_cast<data_t **>(std::calloc(1, sizeof(data_t *)));
}

EMUCXL_API void emucxl_proto_dataFree(data_t **data)
{
	if (!data)
		return;
	for (data_t *d = *data; d;) {
		data_t *next = d->next;
		std::free(d);
		d = next;
	}
	std::free(data);
}

static data_t *proto_find(data_t **data, void *address)
{
	for (data_t *d = data ? *data : nullptr; d; d = d->next)
		if (d->address == address)
			return d;
	return nullptr;
}

EMUCXL_API void *emucxl_proto_getItem(data_t **data, void *address)
{
	data_t *d = proto_find(data, address);
	return d ? d->address : nullptr;
}

EMUCXL_API void emucxl_proto_deleteItem(data_t **data, void *address)
{
	if (!data)
		return;
	for (data_t **link = data; *link; link = &(*link)->next) {
		if ((*link)->address == address) {
			data_t *d = *link;
			*link = d->next;
			std::free(d);
			return;
		}
	}
}

// Replaces any record of the same address, adds at the head; a record that
// cannot be allocated is not added (the prototype wrote through NULL).
EMUCXL_API void emucxl_proto_addItem(data_t **data, void *address, int size, int numa_node)
{
	if (!data)
		return;
	emucxl_proto_deleteItem(data, address);
	auto *d = static_cast<data_t *>(std::malloc(sizeof(data_t)));
	if (!d) {
		LOG_WARN("addItem: out of memory for a record of %p", address);
		return;
	}
	*d = {address, size, numa_node, *data};
	*data = d;
}

EMUCXL_API size_t emucxl_proto_getSize(data_t **data, void *address)
{
	data_t *d = proto_find(data, address);
	return d ? static_cast<size_t>(d->size) : 0;
}

EMUCXL_API int emucxl_proto_getNumaNode(data_t **data, void *address)
{
	data_t *d = proto_find(data, address);
	return d ? d->numa_node : -1;
}

EMUCXL_API int emucxl_proto_getSizeOfAllocatedMemory(data_t **data, int numa_node)
{
	int size = 0;
	for (data_t *d = data ? *data : nullptr; d; d = d->next)
		if (d->numa_node == numa_node)
			size += d->size;
	return size;
}

} // extern "C"
