// SPDX-License-Identifier: Apache-2.0
// dlclose_test.cpp - the library unloaded while a thread that used it still
// runs: that thread's exit must not call into unmapped code (the thread
// cache's pthread key destructor). libemucxl is linked -z nodelete.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <thread>

namespace {

TEST(Dlclose, AThreadExitingAfterTheLibraryIsUnloadedDoesNotCrash)
{
	setenv("EMUCXL_BACKEND", "mbind", 0);
	EXPECT_EXIT(
		{
			void *lib = dlopen(EMUCXL_SHARED_LIBRARY, RTLD_NOW | RTLD_LOCAL);
			if (!lib)
				std::exit(2);
			auto init = reinterpret_cast<int (*)()>(dlsym(lib, "emucxl_init"));
			auto fini = reinterpret_cast<void (*)()>(dlsym(lib, "emucxl_exit"));
			auto alloc = reinterpret_cast<void *(*)(std::size_t, int)>(dlsym(lib, "emucxl_alloc"));
			auto release = reinterpret_cast<void (*)(void *, std::size_t)>(dlsym(lib, "emucxl_free"));
			if (!init || !fini || !alloc || !release || init() != 0)
				std::exit(3);
			std::atomic<int> stage{0};
			std::thread worker([&] {
				release(alloc(64, 1), 64);  // this thread now has a cache
				stage = 1;
				while (stage.load() != 2) {
				}
			});  // ...and exits after the dlclose below
			while (stage.load() != 1) {
			}
			fini();
			dlclose(lib);
			stage = 2;
			worker.join();
			std::exit(0);
		},
		::testing::ExitedWithCode(0), "");
}

}  // namespace
