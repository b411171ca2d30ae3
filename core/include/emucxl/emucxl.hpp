// SPDX-License-Identifier: Apache-2.0
// emucxl.hpp - a C++20 layer over the emucxl C API.
//
//   emucxl::Session s;                                   // init ... exit (RAII)
//   auto p = emucxl::make_unique_on<Point>(emucxl::remote, 1, 2);
//   std::vector<int, emucxl::allocator<int>> v{emucxl::allocator<int>(emucxl::remote)};
//
// Errors: the C API never throws; this layer throws where C++ expects it
// (std::system_error from Session, std::bad_alloc from the allocator) and
// offers non-throwing forms (Session::open, try_make_unique_on).
#pragma once

#include <cerrno>
#include <cstddef>
#include <memory>
#include <new>
#include <optional>
#include <system_error>
#include <type_traits>
#include <utility>

#include "emucxl/emucxl.h"

namespace emucxl {

enum node : int { local = EMUCXL_LOCAL_NODE, remote = EMUCXL_REMOTE_NODE };

// One emucxl_init() ... emucxl_exit() pair. Sessions nest (the library is
// reference counted), so a library and its caller may each hold one.
class Session {
public:
	Session()
	{
		if (emucxl_init() != 0)
			throw std::system_error(errno, std::generic_category(), "emucxl_init");
	}
	// Non-throwing: std::nullopt with errno set when init fails.
	static std::optional<Session> open() noexcept
	{
		if (emucxl_init() != 0)
			return std::nullopt;
		return Session(adopt);
	}
	Session(Session &&other) noexcept : live_(std::exchange(other.live_, false)) {}
	Session &operator=(Session &&other) noexcept
	{
		if (this != &other) {
			reset();
			live_ = std::exchange(other.live_, false);
		}
		return *this;
	}
	Session(const Session &) = delete;
	Session &operator=(const Session &) = delete;
	~Session() { reset(); }

	const char *driver() const noexcept { return emucxl_driver_name(); }
	std::size_t stats(node n) const noexcept { return emucxl_stats(n); }
	emucxl_info info() const noexcept
	{
		emucxl_info i{};
		i.struct_size = sizeof(i);
		(void)emucxl_get_info(&i);
		return i;
	}

private:
	struct adopt_t {};
	static constexpr adopt_t adopt{};
	explicit Session(adopt_t) noexcept {}
	void reset() noexcept
	{
		if (std::exchange(live_, false))
			emucxl_exit();
	}
	bool live_ = true;
};

// Destroys the object and gives its memory back to emucxl. Converts like
// std::default_delete, so unique_ptr<Base> takes a unique_ptr<Derived>
// (Base needs a virtual destructor, as with delete); the allocation is
// found from the most-derived object's address.
template <class T>
struct deleter {
	constexpr deleter() noexcept = default;
	template <class U, class = std::enable_if_t<std::is_convertible_v<U *, T *>>>
	constexpr deleter(const deleter<U> &) noexcept {}  // NOLINT: implicit, as default_delete

	void operator()(T *p) const noexcept
	{
		if (!p)
			return;
		void *start = p;
		if constexpr (std::is_polymorphic<T>::value)
			start = dynamic_cast<void *>(p);
		p->~T();
		emucxl_free(start, 0);
	}
};

template <class T>
using unique_ptr = std::unique_ptr<T, deleter<T>>;

// Construct a T on a node; nullptr (errno set) when emucxl has no memory.
template <class T, class... Args>
unique_ptr<T> try_make_unique_on(node n, Args &&...args) noexcept(
	std::is_nothrow_constructible_v<T, Args...>)
{
	static_assert(alignof(T) <= 16, "emucxl objects are 16-byte aligned");
	void *mem = emucxl_alloc(sizeof(T), n);
	if (!mem)
		return unique_ptr<T>();
	if constexpr (std::is_nothrow_constructible_v<T, Args...>) {
		return unique_ptr<T>(::new (mem) T(std::forward<Args>(args)...));
	} else {
		try {
			return unique_ptr<T>(::new (mem) T(std::forward<Args>(args)...));
		} catch (...) {
			emucxl_free(mem, sizeof(T));
			throw;
		}
	}
}

// Construct a T on a node; throws std::bad_alloc when emucxl has no memory.
template <class T, class... Args>
unique_ptr<T> make_unique_on(node n, Args &&...args)
{
	auto p = try_make_unique_on<T>(n, std::forward<Args>(args)...);
	if (!p)
		throw std::bad_alloc();
	return p;
}

// A standard-library allocator placing elements on one node:
//   std::vector<T, emucxl::allocator<T>> v{emucxl::allocator<T>(emucxl::remote)};
template <class T>
class allocator {
public:
	using value_type = T;
	using is_always_equal = std::false_type;
	// A placement allocator stays with its container, as std::pmr's do:
	// `local_vec = remote_vec` copies the elements into local memory, it
	// does not move local_vec to the remote node.
	using propagate_on_container_copy_assignment = std::false_type;
	using propagate_on_container_move_assignment = std::false_type;
	using propagate_on_container_swap = std::false_type;

	constexpr allocator() noexcept = default;  // local
	constexpr explicit allocator(node n) noexcept : node_(n) {}
	template <class U>
	constexpr allocator(const allocator<U> &other) noexcept : node_(other.where()) {}

	T *allocate(std::size_t count)
	{
		static_assert(alignof(T) <= 16, "emucxl memory is 16-byte aligned");
		if (count == 0)
			return nullptr;  // emucxl has no zero-size blocks; nothing to place
		if (count > static_cast<std::size_t>(-1) / sizeof(T))
			throw std::bad_array_new_length();
		void *p = emucxl_alloc(count * sizeof(T), node_);
		if (!p)
			throw std::bad_alloc();
		return static_cast<T *>(p);
	}
	void deallocate(T *p, std::size_t count) noexcept
	{
		if (p)
			emucxl_free(p, count * sizeof(T));
	}

	constexpr node where() const noexcept { return node_; }
	// Equal when memory from one can be freed by the other: same node,
	// whatever the element types.
	template <class U>
	constexpr bool operator==(const allocator<U> &other) const noexcept
	{
		return node_ == other.where();
	}
	template <class U>
	constexpr bool operator!=(const allocator<U> &other) const noexcept
	{
		return !(*this == other);
	}

private:
	node node_ = local;
};

}  // namespace emucxl
