# SPDX-License-Identifier: Apache-2.0
# pages.py PID RANGES_FILE - where another process's pages are, seen from
# outside it: move_pages(2) (through libnuma, nodes=NULL: query only) on
# every page of the ranges, and /proc/PID/numa_maps for the mappings that
# hold them. Prints one line:
#   pages=N move_pages_n0=A move_pages_n1=B move_pages_other=C numa_maps_n0=D numa_maps_n1=E
import collections
import ctypes
import re
import sys

PAGE = 4096


def ranges(path):
    out = []
    with open(path) as f:
        for line in f:
            a, n = line.split()
            start = int(a, 16)
            out.append((start, start + int(n)))
    return out


def move_pages_count(pid, rs):
    numa = ctypes.CDLL("libnuma.so.1", use_errno=True)
    numa.move_pages.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.POINTER(ctypes.c_void_p),
                                ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int),
                                ctypes.c_int]
    pages = []
    for start, end in rs:
        first = (start + PAGE - 1) // PAGE * PAGE  # whole pages only
        pages.extend(range(first, end - PAGE + 1, PAGE))
    counts = {}
    batch = 16384
    for i in range(0, len(pages), batch):
        chunk = pages[i:i + batch]
        arr = (ctypes.c_void_p * len(chunk))(*chunk)
        status = (ctypes.c_int * len(chunk))()
        if numa.move_pages(pid, len(chunk), arr, None, status, 0) != 0:
            sys.exit("move_pages failed: errno %d" % ctypes.get_errno())
        for node, n in collections.Counter(status).items():  # counted in C
            counts[node] = counts.get(node, 0) + n
    return len(pages), counts


def numa_maps_count(pid, rs):
    n = {0: 0, 1: 0}
    with open("/proc/%d/numa_maps" % pid) as f:
        for line in f:
            start = int(line.split()[0], 16)
            # the mapping an emucxl block starts (large blocks are their own extent)
            if not any(s - PAGE < start < e for s, e in rs) and \
               not any(start <= s < start + PAGE for s, e in rs):
                continue
            for node, pages in re.findall(r"\bN(\d+)=(\d+)", line):
                if int(node) in n:
                    n[int(node)] += int(pages)
    return n


def main():
    pid = int(sys.argv[1])
    rs = ranges(sys.argv[2])
    total, c = move_pages_count(pid, rs)
    nm = numa_maps_count(pid, rs)
    other = total - c.get(0, 0) - c.get(1, 0)
    print("pages=%d move_pages_n0=%d move_pages_n1=%d move_pages_other=%d numa_maps_n0=%d "
          "numa_maps_n1=%d" % (total, c.get(0, 0), c.get(1, 0), other, nm[0], nm[1]))


main()
