/*
 * Throughput of the SFTP transport, compiled by tests/bench/sftp.sh
 * against libmigrate.a (the Makefile does not build it).
 *
 *   sftp_bench put  URL KNOWN_HOSTS KEY MB          one MB-sized object
 *   sftp_bench get  URL KNOWN_HOSTS KEY MB          read it back
 *   sftp_bench many URL KNOWN_HOSTS KEY COUNT KIB   COUNT small objects
 *
 * Prints one line: "<mode> <bytes> <seconds> <MB/s>".  Data are pushed in
 * MIG_STREAM_CHUNK pieces, as the run pipeline does.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "migrate/error.h"
#include "migrate/stream.h"
#include "migrate/transport.h"

static double
now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
die(struct mig_ctx *ctx, const char *what)
{
	fprintf(stderr, "sftp_bench: %s: %s\n", what, mig_errmsg(ctx));
	return 1;
}

int
main(int argc, char **argv)
{
	struct mig_transport_config cfg;
	struct mig_transport *t = NULL;
	struct mig_writer *w = NULL;
	struct mig_reader *rd = NULL;
	struct mig_ctx *ctx;
	unsigned char *buf;
	uint64_t size, done = 0;
	size_t chunk = MIG_STREAM_CHUNK, i, n, count = 1;
	char path[64];
	double t0, secs;

	if (argc < 6) {
		fprintf(stderr, "usage: sftp_bench put|get|many URL "
		    "KNOWN_HOSTS KEY MB|COUNT [KIB]\n");
		return 2;
	}
	if ((ctx = mig_ctx_new()) == NULL || (buf = malloc(chunk)) == NULL)
		return 1;
	for (i = 0; i < chunk; i++)
		buf[i] = (unsigned char)(i * 2654435761u >> 13);
	memset(&cfg, 0, sizeof(cfg));
	cfg.url = argv[2];
	mig_topts_set(&cfg.opts, "known_hosts", argv[3]);
	mig_topts_set(&cfg.opts, "identity", argv[4]);
	size = strtoull(argv[5], NULL, 10) * 1024 * 1024;
	if (strcmp(argv[1], "many") == 0) {
		count = strtoul(argv[5], NULL, 10);
		size = (argc > 6 ? strtoull(argv[6], NULL, 10) : 4) * 1024;
	}
	if (mig_transport_open(&cfg, ctx, &t) != 0)
		return die(ctx, "open");
	if (mig_transport_mkdir_p(t, "bench") != 0)
		return die(ctx, "mkdir_p");
	t0 = now();
	if (strcmp(argv[1], "get") == 0) {
		if (mig_transport_open_read(t, "bench/big.bin", &rd) != 0)
			return die(ctx, "open_read");
		for (;;) {
			if (mig_reader_read(rd, buf, chunk, &n) != 0)
				return die(ctx, "read");
			if (n == 0)
				break;
			done += n;
		}
		mig_reader_free(rd);
	} else {
		for (i = 0; i < count; i++) {
			if (count == 1)
				(void)snprintf(path, sizeof(path),
				    "bench/big.bin");
			else
				(void)snprintf(path, sizeof(path),
				    "bench/many/f%zu.age", i);
			if (mig_transport_open_write(t, path, (int64_t)size, &w) != 0)
				return die(ctx, "open_write");
			for (uint64_t left = size; left > 0; left -= n) {
				n = left < chunk ? (size_t)left : chunk;
				if (mig_writer_write(w, buf, n) != 0)
					return die(ctx, "write");
			}
			if (mig_writer_close(w) != 0)
				return die(ctx, "close");
			mig_writer_free(w);
			done += size;
		}
	}
	secs = now() - t0;
	printf("%s %llu %.3f %.1f\n", argv[1], (unsigned long long)done, secs,
	    (double)done / 1e6 / secs);
	mig_transport_close(t);
	mig_ctx_free(ctx);
	free(buf);
	return 0;
}
