// SPDX-License-Identifier: Apache-2.0
// reaper.cpp - see reaper.hpp.
#include "reaper.hpp"

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "log.hpp"

namespace emucxl::cused {

namespace {

constexpr std::chrono::milliseconds kIdle{1000};  // a reaper thread's life without work

// What a caller of release() waits for.
struct Batch {
	std::size_t pending = 0;  // jobs not done yet; guarded by State::lock
};

}  // namespace

struct Reaper::State {
	struct Item {
		Job job;
		std::shared_ptr<Batch> batch;
	};

	mutable std::mutex lock;
	std::condition_variable changed;  // a job finished, a thread ended
	std::map<uid_t, std::deque<Item>> queues;
	std::set<uid_t> working;  // uids with a thread
	bool stopping = false;
};

Reaper::Reaper() : st_(std::make_shared<State>()) {}

Reaper::~Reaper() { stop(std::chrono::milliseconds(0)); }

void Reaper::work(std::shared_ptr<State> st, uid_t uid) noexcept
{
	std::unique_lock<std::mutex> g(st->lock);
	auto has_work = [&] {
		auto q = st->queues.find(uid);
		return st->stopping || (q != st->queues.end() && !q->second.empty());
	};
	for (;;) {
		// Idle a moment before ending: a client that frees in a loop
		// would otherwise cost a thread start per FREE.
		if (!has_work())
			st->changed.wait_for(g, kIdle, has_work);
		auto q = st->queues.find(uid);
		if (q == st->queues.end() || q->second.empty() || st->stopping) {
			if (q != st->queues.end() && q->second.empty())
				st->queues.erase(q);
			st->working.erase(uid);
			st->changed.notify_all();
			return;
		}
		State::Item item = std::move(q->second.front());
		q->second.pop_front();
		if (q->second.empty())
			st->queues.erase(q);  // stop() waits for no queue at all
		g.unlock();
		item.job.region.release();  // may block on the client's inode lock
		g.lock();
		// After stop() the daemon that owns the counters may be gone.
		if (!st->stopping && item.job.done)
			item.job.done();
		item.batch->pending--;
		st->changed.notify_all();
	}
}

bool Reaper::release(uid_t uid, std::vector<Job> jobs, std::chrono::milliseconds wait) noexcept
{
	if (jobs.empty())
		return true;
	std::shared_ptr<Batch> batch;
	try {
		batch = std::make_shared<Batch>();
		std::unique_lock<std::mutex> g(st_->lock);
		if (st_->stopping)
			throw std::bad_alloc();  // released here, below
		auto &q = st_->queues[uid];
		for (auto &j : jobs)
			q.push_back({std::move(j), batch});
		batch->pending = jobs.size();
		jobs.clear();
		st_->changed.notify_all();  // an idle thread of this uid takes them
		if (st_->working.insert(uid).second) {
			try {
				std::thread(work, st_, uid).detach();
			} catch (...) {
				st_->working.erase(uid);
				// No thread: take our jobs back and do them here.
				for (auto it = q.begin(); it != q.end();) {
					if (it->batch == batch) {
						jobs.push_back(std::move(it->job));
						it = q.erase(it);
					} else {
						++it;
					}
				}
				batch->pending = 0;
				g.unlock();
				CLOG_WARN("reaper: no thread for uid %u: releasing on the worker",
					  static_cast<unsigned>(uid));
				throw;
			}
		}
		const bool done = st_->changed.wait_for(g, wait, [&] { return batch->pending == 0; });
		if (!done)
			CLOG_INFO("reaper: uid %u: %zu release(s) still blocked after %lld ms",
				  static_cast<unsigned>(uid), batch->pending,
				  static_cast<long long>(wait.count()));
		return done;
	} catch (...) {
		// Out of memory or threads, or stopping: release on this thread.
		for (auto &j : jobs) {
			j.region.release();
			std::lock_guard<std::mutex> g(st_->lock);
			if (!st_->stopping && j.done)
				j.done();
		}
		return true;
	}
}

bool Reaper::stop(std::chrono::milliseconds wait) noexcept
{
	std::deque<State::Item> left;
	bool clean;
	{
		std::unique_lock<std::mutex> g(st_->lock);
		st_->changed.wait_for(g, wait, [&] { return st_->queues.empty(); });
		st_->stopping = true;
		st_->changed.notify_all();  // idle threads end
		for (auto &[uid, q] : st_->queues)
			for (auto &item : q)
				left.push_back(std::move(item));
		st_->queues.clear();
		// Threads see `stopping` after their current punch and end.
		clean = st_->changed.wait_for(g, std::chrono::milliseconds(100),
					      [&] { return st_->working.empty(); });
	}
	for (auto &item : left)
		item.job.region.abandon();
	if (!clean)
		CLOG_WARN("reaper: a client still blocks a release; its pages stay with it");
	return clean && left.empty();
}

unsigned Reaper::threads() const noexcept
{
	std::lock_guard<std::mutex> g(st_->lock);
	return static_cast<unsigned>(st_->working.size());
}

}  // namespace emucxl::cused
