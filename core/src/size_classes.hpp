// SPDX-License-Identifier: Apache-2.0
// size_classes.hpp - small-object size classes.
//
// Terms: a *class* is an object size; a *span* is one driver extent cut into
// objects of one class. Sizes up to kMaxSmall are rounded up to a class
// (16-byte steps to 128 B, then four classes per power of two, so internal
// waste is at most 25%); larger sizes get an extent of their own.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace emucxl {

inline constexpr std::size_t kPageShift = 12;
inline constexpr std::size_t kPageSize = std::size_t{1} << kPageShift;  // 4 KiB

inline constexpr std::size_t kMinObjShift = 4;
inline constexpr std::size_t kMinObject = std::size_t{1} << kMinObjShift;  // 16 B
inline constexpr std::size_t kLinearMax = 128;                             // 16-byte steps up to here
inline constexpr std::size_t kMaxSmallShift = 15;
inline constexpr std::size_t kMaxSmall = std::size_t{1} << kMaxSmallShift;  // 32 KiB
inline constexpr std::size_t kSpanShift = 16;
inline constexpr std::size_t kSpanBytes = std::size_t{1} << kSpanShift;  // 64 KiB, at least
inline constexpr std::size_t kMinObjectsPerSpan = 8;

inline constexpr unsigned kLinearClasses = kLinearMax / kMinObject;  // 8
inline constexpr unsigned kNumClasses =
	kLinearClasses + 4 * (kMaxSmallShift - 7);  // 8 + 4 per doubling 128 B..32 KiB = 40

// Class of a size in [1, kMaxSmall].
constexpr unsigned size_class(std::size_t size) noexcept
{
	if (size <= kLinearMax)
		return static_cast<unsigned>((size - 1) >> kMinObjShift);
	const std::size_t s = size - 1;
	const unsigned b = static_cast<unsigned>(std::bit_width(s)) - 1;  // 2^b <= s < 2^(b+1)
	const unsigned quarter = static_cast<unsigned>((s - (std::size_t{1} << b)) >> (b - 2));
	return kLinearClasses + (b - 7) * 4 + quarter;
}

// Object size of a class.
constexpr std::size_t class_size(unsigned cls) noexcept
{
	if (cls < kLinearClasses)
		return (cls + 1) * kMinObject;
	const unsigned b = 7 + (cls - kLinearClasses) / 4;
	const unsigned quarter = (cls - kLinearClasses) % 4;
	return (std::size_t{1} << b) + (quarter + 1) * (std::size_t{1} << (b - 2));
}

// Sizes of a class lie in (class_size(cls - 1), class_size(cls)]: a
// small object's metadata stores class_size + 1 - size (heap.hpp's Block
// tags), in one byte where the class's step allows.
constexpr std::size_t class_step(unsigned cls) noexcept
{
	return cls == 0 ? class_size(0) : class_size(cls) - class_size(cls - 1);
}

constexpr unsigned class_tag_bytes(unsigned cls) noexcept
{
	return class_step(cls) <= 255 ? 1 : 2;
}

// Bytes of one span of a class: 64 KiB, or enough for kMinObjectsPerSpan
// objects, rounded to pages.
constexpr std::size_t span_bytes(unsigned cls) noexcept
{
	const std::size_t want = class_size(cls) * kMinObjectsPerSpan;
	const std::size_t bytes = want > kSpanBytes ? want : kSpanBytes;
	return (bytes + kPageSize - 1) & ~(kPageSize - 1);
}

// Object index without a division: off / size == off * ceil(2^40 / size) >> 40
// exactly, for every off < 2^20 and size <= 2^15 (the rounding error,
// below off / 2^40 < 2^-20, never reaches the next integer, which is at
// least 1 / size >= 2^-15 away).
constexpr std::uint64_t class_recip(unsigned cls) noexcept
{
	return ((std::uint64_t{1} << 40) + class_size(cls) - 1) / class_size(cls);
}

constexpr std::uint32_t index_by_recip(std::size_t off, std::uint64_t recip) noexcept
{
	return static_cast<std::uint32_t>((off * recip) >> 40);
}

static_assert(span_bytes(kNumClasses - 1) <= (std::size_t{1} << 20), "index_by_recip is exact below 1 MiB");

// What one thread may hold per (node, class), bounded so that idle threads
// cannot park a capacity-limited node's memory (issue 11: <= 24 MiB a node
// with nothing live and 64 idle threads):
//  - free objects in its bin: up to 64, at most 8 KiB of them; objects
//    above 4 KiB are not kept at all (their free goes straight back to the
//    span: the lock costs little next to using 4 KiB);
//  - never-used objects reserved for bumping: at most 4 KiB (one object
//    for the classes above that).
inline constexpr std::size_t kBinBytes = std::size_t{8} << 10;       // 8 KiB
inline constexpr std::size_t kBinMaxObject = std::size_t{4} << 10;   // 4 KiB
inline constexpr std::size_t kBumpChunkBytes = std::size_t{4} << 10; // 4 KiB

constexpr std::uint32_t bin_limit(unsigned cls) noexcept
{
	if (class_size(cls) > kBinMaxObject)
		return 0;
	const std::size_t n = kBinBytes / class_size(cls);
	return static_cast<std::uint32_t>(n < 2 ? 2 : n > 64 ? 64 : n);
}

constexpr std::uint32_t bump_chunk(unsigned cls) noexcept
{
	const std::size_t n = kBumpChunkBytes / class_size(cls);
	return static_cast<std::uint32_t>(n < 1 ? 1 : n);
}

inline constexpr auto kBinLimit = [] {
	std::array<std::uint32_t, kNumClasses> t{};
	for (unsigned c = 0; c < kNumClasses; c++)
		t[c] = bin_limit(c);
	return t;
}();

static_assert(kNumClasses == 40);
static_assert(class_size(kNumClasses - 1) == kMaxSmall);
static_assert(size_class(kMaxSmall) == kNumClasses - 1);
static_assert(size_class(129) == 8 && class_size(8) == 160);
static_assert(kMaxSmall <= UINT16_MAX, "requested sizes of small objects are stored in 16 bits");
static_assert(class_tag_bytes(0) == 1 && class_tag_bytes(19) == 1 && class_size(19) == 1024 &&
	      class_tag_bytes(20) == 2, "one byte of metadata per object up to 1 KiB");
static_assert(kSpanBytes / kMinObject <= UINT16_MAX, "object indexes fit in 16 bits");

}  // namespace emucxl
