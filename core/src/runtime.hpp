// SPDX-License-Identifier: Apache-2.0
// runtime.hpp - the process-wide library state behind the C API.
#pragma once

namespace emucxl {

class Heap;

// The heap of the initialised library, or nullptr before emucxl_init() and
// after the last emucxl_exit().
Heap *runtime_heap() noexcept;

}  // namespace emucxl
