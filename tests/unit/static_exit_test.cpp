// SPDX-License-Identifier: Apache-2.0
// static_exit_test.cpp - a detached thread that used the library exits while
// the process runs its static destructors. Its exit runs the thread cache's
// pthread key destructor, which walks the registry of heaps (thread_cache.cpp):
// that registry must still be valid then (it was a std::vector, destroyed
// with the other statics). Exit status 0, and no sanitizer report, is the
// pass; 3 means the thread never got to the end of its exit.
//
//   emucxl_static_exit_test             main returns with the library initialised
//   emucxl_static_exit_test --exit-first  main calls emucxl_exit() first
//
// Ordering, made deterministic rather than left to a race: this file is
// first in the link, so its statics are initialised before the library's and
// destroyed after them. The last of them closes the pipe the thread waits on,
// then waits (at most 10 s) for the thread's exit to have run the library's
// key destructor: a key of this file, created after the library's, has its
// destructor run after it (glibc runs them in key order).
#include <pthread.h>
#include <semaphore.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "emucxl/emucxl.h"

namespace {

int g_pipe[2] = {-1, -1};
sem_t g_ready;   // the thread has a cache and waits
sem_t g_exited;  // the thread's key destructors, the library's included, ran
pthread_key_t g_key;

void on_exit_key(void *)
{
	sem_post(&g_exited);
}

void *worker(void *)
{
	void *p = emucxl_alloc(64, 1);
	void *q = emucxl_alloc(4096, 0);
	if (!p || !q) {
		std::fprintf(stderr, "emucxl_alloc failed: %s\n", std::strerror(errno));
		_exit(2);
	}
	emucxl_free(q, 4096);  // one object in the cache, one live (p)
	(void)pthread_setspecific(g_key, &g_key);
	sem_post(&g_ready);
	char c;
	while (read(g_pipe[0], &c, 1) < 0 && errno == EINTR) {
	}
	return nullptr;  // exits in the middle of static destruction
}

struct LastStatic {
	~LastStatic()
	{
		if (g_pipe[1] < 0)
			return;
		close(g_pipe[1]);
		timespec deadline;
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += 10;
		while (sem_timedwait(&g_exited, &deadline) != 0) {
			if (errno != EINTR) {
				std::fprintf(stderr, "the thread did not finish exiting\n");
				_exit(3);
			}
		}
	}
};
LastStatic g_last;

}  // namespace

int main(int argc, char **argv)
{
	const bool exit_first = argc > 1 && std::strcmp(argv[1], "--exit-first") == 0;
	if (pipe(g_pipe) != 0 || sem_init(&g_ready, 0, 0) != 0 || sem_init(&g_exited, 0, 0) != 0)
		return 2;
	if (emucxl_init() != 0) {
		std::fprintf(stderr, "emucxl_init failed: %s\n", std::strerror(errno));
		return 2;
	}
	// This thread's first call creates the library's key; ours comes after it.
	void *warm = emucxl_alloc(64, 0);
	if (!warm)
		return 2;
	emucxl_free(warm, 64);
	if (pthread_key_create(&g_key, on_exit_key) != 0)
		return 2;
	pthread_t t;
	if (pthread_create(&t, nullptr, worker, nullptr) != 0 || pthread_detach(t) != 0)
		return 2;
	while (sem_wait(&g_ready) != 0) {
	}
	if (exit_first)
		emucxl_exit();
	return 0;
}
