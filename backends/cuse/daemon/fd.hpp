// SPDX-License-Identifier: Apache-2.0
// fd.hpp - an owned file descriptor for the daemon, closed on destruction.
// (The client side has unique_fd in backends/kmod/client; the daemon does
// not link the client, so it carries this three-line twin.)
#pragma once

#include <unistd.h>

#include <utility>

namespace emucxl::cused {

class Fd {
public:
	Fd() noexcept = default;
	explicit Fd(int fd) noexcept : fd_(fd) {}
	Fd(Fd &&o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
	Fd &operator=(Fd &&o) noexcept
	{
		if (this != &o) {
			reset();
			fd_ = std::exchange(o.fd_, -1);
		}
		return *this;
	}
	Fd(const Fd &) = delete;
	Fd &operator=(const Fd &) = delete;
	~Fd() { reset(); }

	int get() const noexcept { return fd_; }
	explicit operator bool() const noexcept { return fd_ >= 0; }
	void reset() noexcept
	{
		if (fd_ >= 0)
			::close(fd_);
		fd_ = -1;
	}

private:
	int fd_ = -1;
};

}  // namespace emucxl::cused
