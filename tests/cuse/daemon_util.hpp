// SPDX-License-Identifier: Apache-2.0
// daemon_util.hpp - private emucxl-cused instances for tests that stop,
// kill or misconfigure a daemon, so the shared one (/dev/emucxl-cuse, which
// vm/run starts) is never disturbed.
//
// The binary: $EMUCXL_CUSED, else the one built with these tests
// (EMUCXL_CUSED_PATH, set by tests/cuse/CMakeLists.txt).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace emucxl::test {

inline const char *cused_binary()
{
	const char *p = std::getenv("EMUCXL_CUSED");
#ifdef EMUCXL_CUSED_PATH
	return p && *p ? p : EMUCXL_CUSED_PATH;
#else
	return p && *p ? p : "emucxl-cused";
#endif
}

// Why a private daemon cannot run here, or "" if it can.
inline std::string cannot_run_daemon()
{
	if (::geteuid() != 0)
		return "needs root (CUSE devices are root's)";
	if (::access("/dev/cuse", R_OK | W_OK) != 0)
		return "no /dev/cuse (the host kernel has no CUSE; the tests run in the vm/ guest)";
	if (::access(cused_binary(), X_OK) != 0)
		return std::string("no daemon binary at ") + cused_binary();
	return "";
}

inline double seconds_since(std::chrono::steady_clock::time_point t0)
{
	return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// One emucxl-cused in the foreground, /dev/<name>, killed with the object.
class PrivateDaemon {
public:
	// A name unique to this process and call.
	static std::string unique_name(const char *what)
	{
		static int n = 0;
		return std::string("emucxl-t") + std::to_string(::getpid()) + "-" + what + "-" +
		       std::to_string(n++);
	}

	PrivateDaemon() = default;
	PrivateDaemon(const PrivateDaemon &) = delete;
	PrivateDaemon &operator=(const PrivateDaemon &) = delete;
	~PrivateDaemon()
	{
		if (pid_ > 0) {
			::kill(pid_, SIGKILL);
			::waitpid(pid_, nullptr, 0);
		}
	}

	// Start it with extra `args`; false if it exited or its device did not
	// answer within 5 s (then exit_status() tells how it ended, if it did).
	// "Answer", not "appear": CUSE creates the node before it registers the
	// character device, and an open in between fails with ENXIO.
	bool start(const std::string &name, const std::vector<std::string> &args = {})
	{
		name_ = name;
		path_ = "/dev/" + name;
		std::vector<std::string> argv_s = {cused_binary(), "-f", "--name", name};
		argv_s.insert(argv_s.end(), args.begin(), args.end());
		pid_ = ::fork();
		if (pid_ < 0)
			return false;
		if (pid_ == 0) {
			std::vector<char *> argv;
			for (auto &a : argv_s)
				argv.push_back(a.data());
			argv.push_back(nullptr);
			::execv(argv[0], argv.data());
			_exit(127);
		}
		const auto t0 = std::chrono::steady_clock::now();
		while (seconds_since(t0) < 5) {
			const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
			if (fd >= 0) {
				::close(fd);
				return true;
			}
			if (exited())
				return false;
			std::this_thread::sleep_for(std::chrono::milliseconds(20));
		}
		return false;
	}

	// Has it ended? Reaps it, keeping the status.
	bool exited()
	{
		if (pid_ <= 0)
			return true;
		int status = 0;
		if (::waitpid(pid_, &status, WNOHANG) == pid_) {
			status_ = status;
			pid_ = -1;
			return true;
		}
		return false;
	}

	// Wait up to `seconds` for it to end; true if it did.
	bool wait_exit(double seconds)
	{
		const auto t0 = std::chrono::steady_clock::now();
		while (!exited()) {
			if (seconds_since(t0) > seconds)
				return false;
			std::this_thread::sleep_for(std::chrono::milliseconds(10));
		}
		return true;
	}

	void signal(int sig) const
	{
		if (pid_ > 0)
			::kill(pid_, sig);
	}

	// SIGSTOP, and wait until every thread of it has stopped (the group
	// stop is reported to us, its parent, only then).
	bool stop()
	{
		if (pid_ <= 0 || ::kill(pid_, SIGSTOP) != 0)
			return false;
		int status = 0;
		return ::waitpid(pid_, &status, WUNTRACED) == pid_ && WIFSTOPPED(status);
	}

	pid_t pid() const { return pid_; }
	int exit_status() const { return status_; }  // waitpid's status
	const std::string &path() const { return path_; }

private:
	std::string name_, path_;
	pid_t pid_ = -1;
	int status_ = -1;
};

}  // namespace emucxl::test
