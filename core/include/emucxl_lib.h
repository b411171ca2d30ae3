/* SPDX-License-Identifier: Apache-2.0 */
/*
 * emucxl_lib.h - source compatibility with the original EmuCXL prototype.
 *
 * A program written for the prototype (#include "emucxl_lib.h", calls to
 * emucxl_init/alloc/free/exit, ...) compiles and links unchanged against
 * this library with `pkg-config --cflags --libs emucxl`. emucxl_init() now
 * returns int (0 or -1 + errno); callers that ignore it are unaffected.
 */
#ifndef EMUCXL_LIB_H
#define EMUCXL_LIB_H

#include <emucxl/emucxl.h>

/* The prototype's node names; a program may define them itself. */
#ifndef LOCAL_MEMORY
#define LOCAL_MEMORY EMUCXL_LOCAL_NODE
#endif
#ifndef REMOTE_MEMORY
#define REMOTE_MEMORY EMUCXL_REMOTE_NODE
#endif

#endif /* EMUCXL_LIB_H */
