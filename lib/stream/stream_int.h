/*
 * Stream internals shared with other lib/ modules (the file transport).
 * Lib-only: not part of the public API.
 */
#ifndef MIGRATE_STREAM_INT_H
#define MIGRATE_STREAM_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "migrate/stream.h"

/*
 * Like mig_file_writer_new() for the entry name (one path component) of
 * the directory dirfd, which is duplicated (the caller keeps its own).
 * display names the object in messages.  expect is the exact number of
 * bytes that will be written, checked on close, or -1 when unknown.
 */
int	mig_file_writer_newat(int dirfd, const char *name, const char *display,
	    mode_t mode, bool overwrite, int64_t expect, struct mig_ctx *ctx,
	    struct mig_writer **wp);

/*
 * Source over fd, which it takes over and closes when freed (also when
 * this call fails).  display names the file in messages.
 */
int	mig_file_reader_fromfd(int fd, const char *display,
	    struct mig_ctx *ctx, struct mig_reader **rp);

#endif /* MIGRATE_STREAM_INT_H */
