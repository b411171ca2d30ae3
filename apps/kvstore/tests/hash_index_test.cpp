// SPDX-License-Identifier: Apache-2.0
// The store's open-addressing index: lookups, growth, and deletion by
// backward shift, with hashes chosen to force collisions and wrap-around.
#include "hash_index.hpp"

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include <gtest/gtest.h>

namespace {

using emucxl::kv::detail::HashIndex;

struct Node {
	std::string k;
	std::string_view key() const { return k; }
};

class HashIndexTest : public ::testing::Test {
protected:
	Node *make(const std::string &k)
	{
		nodes_.push_back(std::make_unique<Node>(Node{k}));
		return nodes_.back().get();
	}
	std::vector<std::unique_ptr<Node>> nodes_;
};

TEST_F(HashIndexTest, EmptyIndexFindsNothing)
{
	HashIndex<Node> idx;
	EXPECT_EQ(idx.find("a", 1), nullptr);
	EXPECT_EQ(idx.size(), 0u);
}

TEST_F(HashIndexTest, FindsWhatWasInsertedAcrossGrowth)
{
	HashIndex<Node> idx;
	std::vector<Node *> in;
	for (int i = 0; i < 1000; ++i) {
		in.push_back(make("k" + std::to_string(i)));
		idx.insert(in.back(), std::hash<std::string>{}(in.back()->k));
	}
	EXPECT_EQ(idx.size(), 1000u);
	for (Node *n : in)
		EXPECT_EQ(idx.find(n->k, std::hash<std::string>{}(n->k)), n);
	EXPECT_EQ(idx.find("absent", std::hash<std::string>{}(std::string("absent"))), nullptr);
}

TEST_F(HashIndexTest, SameHashDifferentKeysAreDistinguished)
{
	HashIndex<Node> idx;
	Node *a = make("a"), *b = make("b"), *c = make("c");
	for (Node *n : {a, b, c})
		idx.insert(n, 42);
	EXPECT_EQ(idx.find("a", 42), a);
	EXPECT_EQ(idx.find("b", 42), b);
	EXPECT_EQ(idx.find("c", 42), c);
	EXPECT_EQ(idx.find("d", 42), nullptr);
	EXPECT_EQ(idx.find("a", 43), nullptr); // the stored hash must match too
}

TEST_F(HashIndexTest, EraseInTheMiddleOfAProbeRunKeepsTheRestReachable)
{
	HashIndex<Node> idx;
	// Home slot 15 of the initial 16: the run wraps around to slots 0, 1, 2.
	std::vector<Node *> run;
	for (int i = 0; i < 4; ++i) {
		run.push_back(make("w" + std::to_string(i)));
		idx.insert(run.back(), 15);
	}
	Node *other = make("x"); // home slot 0, displaced by the wrapped run
	idx.insert(other, 16);
	idx.erase("w1", 15);
	EXPECT_EQ(idx.find("w1", 15), nullptr);
	for (int i : {0, 2, 3})
		EXPECT_EQ(idx.find(run[i]->k, 15), run[i]) << i;
	EXPECT_EQ(idx.find("x", 16), other);
	idx.erase("w0", 15);
	idx.erase("x", 16);
	EXPECT_EQ(idx.find("w2", 15), run[2]);
	EXPECT_EQ(idx.find("w3", 15), run[3]);
	EXPECT_EQ(idx.size(), 2u);
}

TEST_F(HashIndexTest, ReserveMakesRoomAhead)
{
	HashIndex<Node> idx;
	idx.reserve(100);
	for (int i = 0; i < 100; ++i)
		idx.insert(make(std::to_string(i)), static_cast<std::size_t>(i));
	EXPECT_EQ(idx.size(), 100u);
}

// Random inserts and erases with a small hash range (many collisions),
// checked against std::unordered_map after every step.
TEST_F(HashIndexTest, MatchesAReferenceMapUnderRandomOperations)
{
	HashIndex<Node> idx;
	std::unordered_map<std::string, Node *> ref;
	std::mt19937_64 rng(7);
	auto hash_of = [](const std::string &k) { return std::hash<std::string>{}(k) % 64; };
	for (int step = 0; step < 20000; ++step) {
		const std::string k = "k" + std::to_string(rng() % 300);
		const std::size_t h = hash_of(k);
		if (auto it = ref.find(k); it != ref.end()) {
			ASSERT_EQ(idx.find(k, h), it->second);
			idx.erase(k, h);
			ref.erase(it);
		} else {
			ASSERT_EQ(idx.find(k, h), nullptr);
			Node *n = make(k);
			idx.insert(n, h);
			ref.emplace(k, n);
		}
		if (step % 1000 == 0) {
			for (const auto &[key, n] : ref)
				ASSERT_EQ(idx.find(key, hash_of(key)), n) << key;
			std::size_t visited = 0;
			idx.for_each([&](Node *) { ++visited; });
			ASSERT_EQ(visited, ref.size());
		}
	}
	EXPECT_EQ(idx.size(), ref.size());
}

} // namespace
