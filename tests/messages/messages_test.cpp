// SPDX-License-Identifier: Apache-2.0
// messages_test.cpp - what a user sees at the default log level (warn) when
// something goes wrong: each failure says why, and the same mistake gets the
// same errno whatever the driver. Public C API only; stderr captured.
//
// Host (ctest messages.*): kmod and cuse asked for by name where they cannot
// run, a NUMA node that does not exist, a wrong-size free, an interior free,
// an allocation over the node's capacity (mbind).
// Guest (tests/vm/messages.sh, both kernels, with emucxl.ko loaded and
// emucxl-cused on /dev/emucxl-cuse): EMUCXL_BACKEND=cuse finds the daemon
// with no EMUCXL_DEVICE, auto says when it passes over the module's device
// because of EMUCXL_REMOTE_NODE, and over-capacity messages on the devices.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "emucxl/emucxl.h"

namespace {

using testing::HasSubstr;

// Sets (or unsets, for nullptr) environment variables for one scope.
class Env {
public:
	Env(std::initializer_list<std::pair<const char *, const char *>> vars)
	{
		for (auto [name, value] : vars) {
			const char *old = std::getenv(name);
			saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
			if (value)
				setenv(name, value, 1);
			else
				unsetenv(name);
		}
	}
	~Env()
	{
		for (auto &[name, value] : saved_) {
			if (value)
				setenv(name.c_str(), value->c_str(), 1);
			else
				unsetenv(name.c_str());
		}
	}
	Env(const Env &) = delete;
	Env &operator=(const Env &) = delete;

private:
	std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

// emucxl_init under `vars` at the default log level: its result, errno and
// what it printed.
struct Init {
	int rc;
	int err;
	std::string out;
};
Init init_with(std::initializer_list<std::pair<const char *, const char *>> vars)
{
	Env env(vars);
	Env quiet({{"EMUCXL_LOG", nullptr}});
	testing::internal::CaptureStderr();
	errno = 0;
	Init r{emucxl_init(), errno, ""};
	r.out = testing::internal::GetCapturedStderr();
	return r;
}

bool is_char_device(const char *path)
{
	struct stat st;
	return ::stat(path, &st) == 0 && S_ISCHR(st.st_mode);
}

bool in_guest()
{
	return std::getenv("EMUCXL_MESSAGES_GUEST") != nullptr;  // set by tests/vm/messages.sh
}

// A session on the default driver for the allocation messages.
class Session : public testing::Test {
protected:
	void SetUp() override
	{
		Env env({{"EMUCXL_LOG", nullptr}});
		ASSERT_EQ(emucxl_init(), 0) << std::strerror(errno);
	}
	void TearDown() override { emucxl_exit(); }
};

template <class F>
std::string stderr_of(F &&f)
{
	testing::internal::CaptureStderr();
	f();
	return testing::internal::GetCapturedStderr();
}

// ---- drivers that cannot run here -----------------------------------------

TEST(DriverUnavailable, KmodSaysWhyAndWhatToDo)
{
	if (is_char_device("/dev/emucxl"))
		GTEST_SKIP() << "/dev/emucxl exists here: kmod can run";
	Init r = init_with({{"EMUCXL_BACKEND", "kmod"}, {"EMUCXL_DEVICE", nullptr}});
	ASSERT_EQ(r.rc, -1);
	EXPECT_EQ(r.err, ENODEV);
	EXPECT_THAT(r.out, HasSubstr("EMUCXL_BACKEND=kmod"));
	EXPECT_THAT(r.out, HasSubstr("the emucxl module is not loaded"));  // the reason
	EXPECT_THAT(r.out, HasSubstr("vm/run --"));                        // the next step
}

TEST(DriverUnavailable, CuseSaysWhyAndWhatToDo)
{
	if (is_char_device("/dev/emucxl-cuse"))
		GTEST_SKIP() << "/dev/emucxl-cuse exists here: cuse can run";
	Init r = init_with({{"EMUCXL_BACKEND", "cuse"}, {"EMUCXL_DEVICE", nullptr}});
	ASSERT_EQ(r.rc, -1);
	EXPECT_EQ(r.err, ENODEV);
	EXPECT_THAT(r.out, HasSubstr("no emucxl-cused is running"));
	EXPECT_THAT(r.out, HasSubstr("/dev/emucxl nor /dev/emucxl-cuse"));  // both names tried
	EXPECT_THAT(r.out, HasSubstr("vm/run --"));
}

TEST(DriverUnavailable, CuseNamesTheDeviceItWasGiven)
{
	Init r = init_with({{"EMUCXL_BACKEND", "cuse"}, {"EMUCXL_DEVICE", "/dev/emucxl-nothere"}});
	ASSERT_EQ(r.rc, -1);
	EXPECT_EQ(r.err, ENODEV);
	EXPECT_THAT(r.out, HasSubstr("EMUCXL_DEVICE=/dev/emucxl-nothere"));
}

// ---- a node that does not exist: one message, one errno, every driver -----

TEST(NodeThatDoesNotExist, SameErrnoAndMessageOnEveryDriver)
{
	for (const char *backend : {"auto", "mbind", "kmod", "cuse"}) {
		SCOPED_TRACE(backend);
		Init r = init_with({{"EMUCXL_BACKEND", backend}, {"EMUCXL_REMOTE_NODE", "1000"}});
		ASSERT_EQ(r.rc, -1);
		EXPECT_EQ(r.err, EINVAL);
		EXPECT_THAT(r.out, HasSubstr("EMUCXL_REMOTE_NODE=1000: NUMA node 1000 does not exist"));
		EXPECT_EQ(r.out.find("set "), std::string::npos) << "no advice to set a parameter: " << r.out;
	}
}

// ---- allocation messages ----------------------------------------------------

TEST_F(Session, WrongSizeFreeSaysTheRealSize)
{
	void *p = emucxl_alloc(100, EMUCXL_LOCAL_NODE);
	ASSERT_NE(p, nullptr);
	errno = 0;
	std::string out = stderr_of([&] { emucxl_free(p, 50); });
	EXPECT_EQ(errno, EINVAL);
	EXPECT_THAT(out, HasSubstr("that allocation is 100 bytes, not 50"));
	EXPECT_EQ(emucxl_get_size(p), 100u);  // nothing freed

	void *big = emucxl_alloc(1 << 20, EMUCXL_REMOTE_NODE);
	ASSERT_NE(big, nullptr);
	out = stderr_of([&] { emucxl_free(big, 4096); });
	EXPECT_THAT(out, HasSubstr("that allocation is 1048576 bytes, not 4096"));

	out = stderr_of([&] { emucxl_free(static_cast<char *>(p) + 8, 100); });
	EXPECT_THAT(out, HasSubstr("inside the allocation"));

	emucxl_free(p, 100);
	emucxl_free(big, 0);
	out = stderr_of([&] { emucxl_free(p, 100); });
	EXPECT_THAT(out, HasSubstr("not a live allocation"));
}

TEST_F(Session, OverCapacityAllocSaysCapacityAndUse)
{
	struct emucxl_info info{};
	ASSERT_EQ(emucxl_get_info(&info), 0);
	void *held = emucxl_alloc(1 << 20, EMUCXL_REMOTE_NODE);
	ASSERT_NE(held, nullptr);
	// Twice the capacity cannot fit on any driver.
	const std::size_t too_big = static_cast<std::size_t>(info.node[1].capacity) * 2 + (1u << 30);
	errno = 0;
	void *p = nullptr;
	std::string out = stderr_of([&] { p = emucxl_alloc(too_big, EMUCXL_REMOTE_NODE); });
	EXPECT_EQ(p, nullptr);
	EXPECT_EQ(errno, ENOMEM);
	EXPECT_THAT(out, HasSubstr(std::to_string(too_big) + " bytes do not fit on node 1"));
	EXPECT_THAT(out, HasSubstr("capacity "));
	EXPECT_THAT(out, HasSubstr("MiB free"));
	EXPECT_THAT(out, HasSubstr("this process holds 1.0 MiB there"));

	out = stderr_of([&] { p = emucxl_resize(held, too_big); });
	EXPECT_EQ(p, nullptr);
	EXPECT_THAT(out, HasSubstr("capacity "));
	EXPECT_THAT(out, HasSubstr("the old block is untouched"));
	emucxl_free(held, 0);
}

// ---- guest only: the devices ------------------------------------------------

TEST(Guest, CuseFoundWithoutEmucxlDevice)
{
	if (!in_guest() || !is_char_device("/dev/emucxl-cuse"))
		GTEST_SKIP() << "needs the vm/ guest's emucxl-cused on /dev/emucxl-cuse";
	Init r = init_with({{"EMUCXL_BACKEND", "cuse"}, {"EMUCXL_DEVICE", nullptr}});
	ASSERT_EQ(r.rc, 0) << r.out;
	EXPECT_STREQ(emucxl_driver_name(), "cuse");
	emucxl_exit();
}

TEST(Guest, AutoSaysWhenItPassesOverTheModule)
{
	if (!in_guest() || access("/sys/module/emucxl", F_OK) != 0)
		GTEST_SKIP() << "needs the vm/ guest with emucxl.ko loaded";
	// Logical node 1 is node 1 in the module; ask auto for node 0 instead.
	Init r = init_with({{"EMUCXL_BACKEND", "auto"}, {"EMUCXL_DEVICE", nullptr},
			    {"EMUCXL_REMOTE_NODE", "0"}});
	ASSERT_EQ(r.rc, 0) << r.out;
	EXPECT_STREQ(emucxl_driver_name(), "mbind");
	EXPECT_THAT(r.out, HasSubstr("auto: running on the mbind driver, not on kmod"));
	EXPECT_THAT(r.out, HasSubstr("EMUCXL_BACKEND=kmod makes that an error"));
	emucxl_exit();

	// Named, the same configuration is an error, with the same advice.
	r = init_with({{"EMUCXL_BACKEND", "kmod"}, {"EMUCXL_DEVICE", nullptr},
		       {"EMUCXL_REMOTE_NODE", "0"}});
	ASSERT_EQ(r.rc, -1);
	EXPECT_EQ(r.err, EINVAL);
	EXPECT_THAT(r.out, HasSubstr("set the module parameter remote_node to 0"));
}

TEST(Guest, DeviceOverCapacitySaysCapacityAndUse)
{
	if (!in_guest())
		GTEST_SKIP() << "needs the vm/ guest's devices";
	for (const char *spec : {"kmod:/dev/emucxl", "cuse:/dev/emucxl-cuse"}) {
		const std::string s(spec);
		const std::string driver = s.substr(0, s.find(':')), dev = s.substr(s.find(':') + 1);
		SCOPED_TRACE(driver);
		if (!is_char_device(dev.c_str())) {
			std::printf("%s: %s absent, not checked\n", driver.c_str(), dev.c_str());
			continue;
		}
		Init r = init_with({{"EMUCXL_BACKEND", driver.c_str()}, {"EMUCXL_DEVICE", dev.c_str()}});
		ASSERT_EQ(r.rc, 0) << r.out;
		struct emucxl_info info{};
		ASSERT_EQ(emucxl_get_info(&info), 0);
		const std::size_t too_big = static_cast<std::size_t>(info.node[1].capacity) + (1u << 30);
		void *p = nullptr;
		std::string out = stderr_of([&] { p = emucxl_alloc(too_big, EMUCXL_REMOTE_NODE); });
		EXPECT_EQ(p, nullptr);
		EXPECT_THAT(out, HasSubstr("capacity "));
		EXPECT_THAT(out, HasSubstr("allocated by the " + driver + " driver"));
		emucxl_exit();
	}
}

}  // namespace
