// SPDX-License-Identifier: Apache-2.0
// size_classes_test.cpp - every small size maps to the smallest class that
// holds it, and the classes waste at most 25% above 128 bytes.
#include <gtest/gtest.h>

#include "size_classes.hpp"

namespace emucxl {
namespace {

TEST(SizeClasses, EverySizeGetsTheSmallestClassThatFits)
{
	for (std::size_t size = 1; size <= kMaxSmall; size++) {
		const unsigned cls = size_class(size);
		ASSERT_LT(cls, kNumClasses) << size;
		ASSERT_GE(class_size(cls), size) << size;
		if (cls > 0) {
			ASSERT_LT(class_size(cls - 1), size) << size;
		}
	}
}

TEST(SizeClasses, WasteIsBounded)
{
	for (std::size_t size = kLinearMax + 1; size <= kMaxSmall; size++)
		ASSERT_LE(class_size(size_class(size)) * 4, size * 5 + 4 * 32)
			<< "more than 25% waste at " << size;
}

TEST(SizeClasses, ClassesAreAlignedAndSpansHoldEnoughObjects)
{
	for (unsigned cls = 0; cls < kNumClasses; cls++) {
		EXPECT_EQ(class_size(cls) % 16, 0u) << cls;
		EXPECT_EQ(span_bytes(cls) % kPageSize, 0u) << cls;
		EXPECT_GE(span_bytes(cls) / class_size(cls), kMinObjectsPerSpan) << cls;
		if (cls > 0) {
			EXPECT_GT(class_size(cls), class_size(cls - 1));
		}
	}
}

TEST(SizeClasses, ReciprocalIndexEqualsDivisionOverWholeSpans)
{
	for (unsigned cls = 0; cls < kNumClasses; cls++) {
		const std::uint64_t recip = class_recip(cls);
		for (std::size_t off = 0; off < span_bytes(cls); off++)
			ASSERT_EQ(index_by_recip(off, recip), off / class_size(cls)) << cls << " " << off;
	}
}

}  // namespace
}  // namespace emucxl
