#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""hold.py LIB|plain MIB NODE [TOUCH_SECONDS]: a memory client for
tests/vm-cxl/*.sh. Not a test.

LIB: allocates MIB MiB on logical NODE through emucxl's public API (the
driver EMUCXL_BACKEND names), from the libemucxl.so at LIB. "plain": an
ordinary anonymous mapping (default policy, no emucxl), its pages moved to
physical NODE with move_pages, as an unmodified program's would be.
It writes a pattern; with TOUCH_SECONDS it then reads every page over and
over for that long (hot memory, for the kernel's tiering to see); prints
"held"; and after a line on stdin checks the pattern and prints where the
pages are now, looked up from outside the allocator (move_pages):
"intact nodes=N:pages[,N:pages...]".
"""
import ctypes
import mmap
import sys
import time

PAGE = 4096


def move_pages(numa, addr: int, count: int, node: int | None) -> list[int]:
    """move_pages(2) on count pages from addr: to node, or (None) where."""
    pages = (ctypes.c_void_p * count)(*[addr + i * PAGE for i in range(count)])
    nodes = (ctypes.c_int * count)(*([node] * count)) if node is not None else None
    status = (ctypes.c_int * count)()
    if numa.numa_move_pages(0, count, pages, nodes, status, 0) != 0:
        raise OSError(ctypes.get_errno(), "move_pages")
    return list(status)


def main() -> int:
    target, size, node = sys.argv[1], int(sys.argv[2]) << 20, int(sys.argv[3])
    touch = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    count = size // PAGE
    numa = ctypes.CDLL("libnuma.so.1", use_errno=True)
    numa.numa_move_pages.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p,
                                     ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    lib = None
    if target == "plain":
        region = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        buf = (ctypes.c_ubyte * size).from_buffer(region)
        addr = ctypes.addressof(buf)
    else:
        lib = ctypes.CDLL(target, use_errno=True)
        lib.emucxl_alloc.restype = ctypes.c_void_p
        lib.emucxl_alloc.argtypes = [ctypes.c_size_t, ctypes.c_int]
        lib.emucxl_free.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        if lib.emucxl_init() != 0:
            print(f"emucxl_init failed: errno {ctypes.get_errno()}", flush=True)
            return 1
        addr = lib.emucxl_alloc(size, node)
        if not addr:
            print(f"emucxl_alloc({size}, {node}) failed: errno {ctypes.get_errno()}", flush=True)
            return 1
        buf = (ctypes.c_ubyte * size).from_address(addr)
    pattern = bytes((i * 7 + 3) & 0xFF for i in range(PAGE))
    for off in range(0, size, PAGE):
        buf[off:off + PAGE] = pattern
    if target == "plain":
        # A page can be busy for a moment (EBUSY, EAGAIN): try those again.
        for _ in range(5):
            moved = move_pages(numa, addr, count, node)
            if all(s == node for s in moved):
                break
            time.sleep(0.2)
        else:
            bad = sorted({s for s in moved if s != node})
            print(f"move_pages to node {node}: {sum(s == node for s in moved)} of {count} pages "
                  f"(others: {bad})", flush=True)
            return 1
    end = time.monotonic() + touch
    while time.monotonic() < end:
        for off in range(0, size, PAGE):
            buf[off]  # noqa: B018 - the load is the point
    print("held", flush=True)
    sys.stdin.readline()

    intact = all(bytes(buf[off:off + PAGE]) == pattern for off in range(0, size, PAGE))
    where: dict[int, int] = {}
    for s in move_pages(numa, addr, count, None):
        where[s] = where.get(s, 0) + 1
    nodes = ",".join(f"{n}:{c}" for n, c in sorted(where.items()))
    print(f"{'intact' if intact else 'CORRUPT'} nodes={nodes}", flush=True)
    if lib is not None:
        lib.emucxl_free(addr, size)
        lib.emucxl_exit()
    else:
        del buf
        region.close()
    return 0 if intact else 1


if __name__ == "__main__":
    sys.exit(main())
