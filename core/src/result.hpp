// SPDX-License-Identifier: Apache-2.0
// result.hpp - the explicit result type used inside emucxl: a value or an errno.
//
// Errors inside the library travel as Result<T>; only the C boundary turns
// them into errno + a sentinel return value. Nothing throws.
#pragma once

#include <cerrno>
#include <utility>
#include <variant>

namespace emucxl {

// An errno value (EINVAL, ENOMEM, ...). Never 0.
struct Error {
	int code;
};

template <class T>
class [[nodiscard]] Result {
public:
	Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
	Result(Error e) : v_(e) {}                 // NOLINT: implicit by design

	explicit operator bool() const noexcept { return v_.index() == 0; }
	bool ok() const noexcept { return v_.index() == 0; }

	T &value() & { return std::get<0>(v_); }
	const T &value() const & { return std::get<0>(v_); }
	T &&value() && { return std::get<0>(std::move(v_)); }
	T *operator->() { return &std::get<0>(v_); }
	const T *operator->() const { return &std::get<0>(v_); }

	int error() const noexcept { return ok() ? 0 : std::get<1>(v_).code; }

private:
	std::variant<T, Error> v_;
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
