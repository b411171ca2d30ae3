// SPDX-License-Identifier: Apache-2.0
// reply_open_fail.c - an LD_PRELOAD shim for emucxl-cused in the attack test
// (CuseAttack.FailedOpenReplyLeavesNoSession): fuse_reply_open() of an open
// with O_NONBLOCK fails as a reply whose write to /dev/cuse failed does (the
// kernel then never sends a release for that file). The client is answered
// EIO instead, so it does not wait; the daemon sees -EIO, not -ENOENT (the
// only failure it used to clean up after). Every other open is passed on.
#define _GNU_SOURCE
#define FUSE_USE_VERSION 31
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>

static int (*real_reply_open)(fuse_req_t, const struct fuse_file_info *);

// Resolved once, before the daemon starts its worker threads.
__attribute__((constructor)) static void resolve(void)
{
	real_reply_open = (int (*)(fuse_req_t, const struct fuse_file_info *))dlsym(
		RTLD_NEXT, "fuse_reply_open");
}

// Exported (the build hides symbols by default): this is what the
// daemon's call binds to.
__attribute__((visibility("default"))) int fuse_reply_open(fuse_req_t req,
							    const struct fuse_file_info *fi)
{
	if (fi->flags & O_NONBLOCK) {
		fuse_reply_err(req, EIO);
		return -EIO;
	}
	return real_reply_open ? real_reply_open(req, fi) : -ENOSYS;
}
