// SPDX-License-Identifier: Apache-2.0
// fork.hpp - what a forked child keeps of the parent's emucxl heap.
//
// emucxl memory is not inherited across fork() (the mbind driver marks it
// MADV_DONTFORK, the module's mappings are VM_DONTCOPY). A program that
// forks and reads its heap in the child (a shell running $(...), redis'
// BGSAVE) would fault. So around fork() the preload lifts MADV_DONTFORK
// (MADV_DOFORK) on the mappings that hold emucxl blocks, and puts it back in
// the parent afterwards:
//   - private mappings (mbind): the child gets a copy-on-write copy, as of a
//     glibc heap, still bound to the node;
//   - shared mappings (kmod's device pages, cuse's memfd): fork would share
//     them, so the child replaces each by a private copy at the same address
//     (in ordinary memory, local) while the parent waits for it in its
//     atfork handler. The module documents MADV_DOFORK: the child's mapping
//     holds its own reference, dropped when the copy replaces it.
// The ranges are remembered, so the child knows which pointers are the
// parent's emucxl blocks (it must never hand those to the real allocator).
#pragma once

#include <cstddef>

namespace emucxl::preload::forking {

// pthread_atfork handlers. is_emucxl(addr) tells whether a mapping that
// starts at addr holds emucxl memory.
void prepare(bool (*is_emucxl)(void *addr)) noexcept;
void parent() noexcept;
void child() noexcept;

// In a child: whether p lies in a range inherited from the parent's emucxl
// heap; *room is then the number of bytes from p to the range's end.
bool inherited(const void *p, std::size_t *room) noexcept;

}  // namespace emucxl::preload::forking
