# SPDX-License-Identifier: Apache-2.0
# workload.py - the Python side of the guest placement tests
# (tests/vm/preload_placement.sh): allocate bytearrays, write their address
# ranges to a file, and wait there so that another process can look at this
# one's pages (move_pages, /proc/PID/numa_maps).
#   workload.py RANGES_FILE COUNT SIZE_MIB   -- hold COUNT bytearrays of SIZE_MIB
#   workload.py --fill SIZE_MIB LIMIT_MIB    -- allocate SIZE_MIB chunks up to LIMIT_MIB,
#                                               print how many fit, exit
import ctypes
import sys
import time


def address(buf):
    return ctypes.addressof((ctypes.c_char * len(buf)).from_buffer(buf))


def touch(b):
    """Write one byte a page (in C, one slice assignment): every page resident."""
    b[::4096] = b"\x01" * len(range(0, len(b), 4096))


def hold(ranges_file, count, size_mib):
    size = size_mib << 20
    bufs = []
    for _ in range(count):
        b = bytearray(size)
        touch(b)
        bufs.append(b)
    with open(ranges_file + ".tmp", "w") as f:
        for b in bufs:
            f.write("%x %d\n" % (address(b), len(b)))
    import os
    os.rename(ranges_file + ".tmp", ranges_file)
    time.sleep(600)  # killed by the test once it has looked


def fill(size_mib, limit_mib):
    bufs = []
    try:
        while len(bufs) * size_mib < limit_mib:
            b = bytearray(size_mib << 20)
            touch(b)
            bufs.append(b)
    except MemoryError:
        print("MemoryError after %d chunks" % len(bufs))
        return
    print("allocated %d chunks" % len(bufs))


if __name__ == "__main__":
    if sys.argv[1] == "--fill":
        fill(int(sys.argv[2]), int(sys.argv[3]))
    else:
        hold(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
