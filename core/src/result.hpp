// SPDX-License-Identifier: Apache-2.0
// result.hpp - the explicit result type used inside emucxl: a value or an errno.
//
// Errors inside the library travel as Result<T>; only the C boundary turns
// them into errno + a sentinel return value. Nothing throws.
#pragma once

#include <cerrno>
#include <optional>
#include <type_traits>
#include <utility>

namespace emucxl {

// An errno value (EINVAL, ENOMEM, ...). Never 0.
struct Error {
	int code;
};

// A value, or an errno. A plain pair rather than std::variant: for small T
// (pointers) it comes back in two registers, which matters on the
// allocation fast path. A T that cannot be default-constructed is kept in
// a std::optional.
template <class T>
class [[nodiscard]] Result {
	static constexpr bool kPlain = std::is_default_constructible_v<T>;
	using Storage = std::conditional_t<kPlain, T, std::optional<T>>;

public:
	Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
	Result(Error e) : error_(e.code) {}            // NOLINT: implicit by design

	explicit operator bool() const noexcept { return error_ == 0; }
	bool ok() const noexcept { return error_ == 0; }

	T &value() & { return get(); }
	const T &value() const & { return const_cast<Result *>(this)->get(); }
	T &&value() && { return std::move(get()); }
	T *operator->() { return &get(); }
	const T *operator->() const { return &const_cast<Result *>(this)->get(); }

	int error() const noexcept { return error_; }

private:
	T &get()
	{
		if constexpr (kPlain)
			return value_;
		else
			return *value_;
	}

	Storage value_{};
	int error_ = 0;
};

// Status: success or an errno, for operations with no value.
class [[nodiscard]] Status {
public:
	Status() = default;
	Status(Error e) : code_(e.code) {}  // NOLINT: implicit by design
	explicit operator bool() const noexcept { return code_ == 0; }
	bool ok() const noexcept { return code_ == 0; }
	int error() const noexcept { return code_; }

private:
	int code_ = 0;
};

}  // namespace emucxl
