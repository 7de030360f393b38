/*
 * BagIt (RFC 8493, version 1.0; the drafts 0.93 to 0.97 are also read).
 *
 * Writer: the run pipeline lands every object under BAGDIR/data/ and
 * records it in a struct mig_bag_manifest; at the end of the run
 * mig_bag_write_tags() writes bagit.txt, bag-info.txt,
 * manifest-sha256.txt and tagmanifest-sha256.txt through the same
 * transport.  The caller writes _SUCCESS afterwards: it is not a BagIt tag
 * file, and validators ignore it like any other file outside data/ that no
 * tag manifest lists.
 *
 * Validator: mig_bag_validate() (local directory) and mig_bag_validate_t()
 * (any transport) check a bag completely, every checksum every time, and
 * return a list of findings the caller prints.
 */
#ifndef MIGRATE_BAGIT_H
#define MIGRATE_BAGIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mig_ctx;
struct mig_transport;

/* --- Writer ------------------------------------------------------------ */

/*
 * Payload entries (path under data/, SHA-256, size) and extra tag files.
 * Adding is thread-safe (an internal mutex), so run workers may add
 * concurrently; mig_bag_write_tags() must not run concurrently with adds.
 */
struct mig_bag_manifest;

/* Returns a new empty manifest, or NULL on ENOMEM. */
struct mig_bag_manifest *mig_bag_manifest_new(void);
/* Frees m; NULL is a no-op. */
void	mig_bag_manifest_free(struct mig_bag_manifest *m);

/*
 * Records a payload file.  path is relative to data/ ("2024/a.csv.age"):
 * '/' separators, no leading '/', no empty, "." or ".." component.
 * CR, LF and '%' are allowed (the manifest percent-encodes them).
 * sha256_hex is 64 hex digits (either case).  Adding a path that is
 * already present replaces the earlier entry (a re-stored object).
 * Returns 0, MIG_ERR_USAGE (bad path or digest) or MIG_ERR_NOMEM.
 */
int	mig_bag_manifest_add(struct mig_bag_manifest *m, const char *path,
	    const char *sha256_hex, uint64_t size, struct mig_ctx *ctx);
/* The same with a binary digest. */
int	mig_bag_manifest_add_digest(struct mig_bag_manifest *m,
	    const char *path, const unsigned char digest[32], uint64_t size,
	    struct mig_ctx *ctx);

/*
 * Registers an extra tag file that the caller has written (or will have
 * written before mig_bag_write_tags()) at BAGDIR/path, e.g.
 * "migrate-manifest.json.age", so that tagmanifest-sha256.txt covers it.
 * path is relative to the bag, not under data/, and not one of the files
 * mig_bag_write_tags() writes.  sha256_hex NULL: mig_bag_write_tags()
 * reads the file back through the transport and hashes it.  Registering
 * a path again replaces the earlier digest.  Thread-safe.
 * Returns 0, MIG_ERR_USAGE or MIG_ERR_NOMEM.
 */
int	mig_bag_manifest_add_tagfile(struct mig_bag_manifest *m,
	    const char *path, const char *sha256_hex, struct mig_ctx *ctx);

/*
 * Number of distinct payload files and their total size (the
 * Payload-Oxum).  Thread-safe.
 */
void	mig_bag_manifest_totals(struct mig_bag_manifest *m, uint64_t *files,
	    uint64_t *bytes);

/*
 * Looks up a payload path (relative to data/).  Returns true and fills
 * the out-params (each may be NULL) when present.  Thread-safe.
 */
bool	mig_bag_manifest_lookup(struct mig_bag_manifest *m, const char *path,
	    unsigned char digest[32], uint64_t *size);

/* One bag-info.txt line: "Label: value".  Both borrowed. */
struct mig_bag_tag {
	const char	*label;
	const char	*value;
};

/*
 * Ordered bag-info.txt metadata, written in this order, e.g.
 * Bagging-Date, External-Identifier, Migrate-Strategy,
 * Migrate-Plan-SHA256, Migrate-Audit-Head.  Labels must be non-empty,
 * without ':', CR, LF or surrounding white space; values without CR or
 * LF.  Payload-Oxum is always computed from the manifest and written
 * last; a Payload-Oxum given here is ignored.
 */
struct mig_bag_info {
	const struct mig_bag_tag	*tags;
	size_t				 ntags;
	/*
	 * The bag is in a run directory not yet published (no _SUCCESS):
	 * its tag files go whole, in flight together and in place
	 * (mig_transport_put_start()), not each through a temporary.
	 */
	bool				 unpublished;
};

/*
 * Writes BAGDIR/bagit.txt ("BagIt-Version: 1.0", UTF-8), bag-info.txt,
 * manifest-sha256.txt (sorted by path; CR, LF and '%' in paths
 * percent-encoded) and, last, tagmanifest-sha256.txt covering those three
 * and every registered extra tag file.  Each file is published atomically
 * by the transport.  bagdir is relative to the transport root ("" or
 * NULL: the root itself); info may be NULL.  m must not be modified
 * concurrently.  Returns 0 or the transport's error (I/O, network),
 * MIG_ERR_USAGE for a bad bag-info label or value, MIG_ERR_NOTFOUND when
 * an extra tag file to hash is absent.
 */
int	mig_bag_write_tags(struct mig_transport *t, const char *bagdir,
	    const struct mig_bag_manifest *m, const struct mig_bag_info *info,
	    struct mig_ctx *ctx);
/* The same, and the hex SHA-256 of the tagmanifest-sha256.txt written. */
int	mig_bag_write_tags_digest(struct mig_transport *t, const char *bagdir,
	    const struct mig_bag_manifest *m, const struct mig_bag_info *info,
	    char tagmanifest_hex[65], struct mig_ctx *ctx);
/*
 * manifest-sha256.txt written as it is made, for bags of millions of
 * files: each line goes out through the transport (hashed on the way) as
 * it is added, and nothing is held but a buffer.  Paths (relative to
 * data/, as for mig_bag_manifest_add) must come in strictly increasing
 * strcmp() order, the order mig_bag_write_tags() sorts into: anything
 * else is MIG_ERR_USAGE.  Close publishes the file and records its
 * digest, file count and bytes in m, whose mig_bag_write_tags() then
 * leaves the file as it is (payload entries added to m are not written)
 * and takes Payload-Oxum from it.  Freed without a close, the file is
 * abandoned (the transport removes its temporary).  unpublished: the bag
 * is in a run directory without _SUCCESS, and the file may be written in
 * place (mig_transport_open_write_unpublished()).
 */
struct mig_bag_manifest_writer;

int	mig_bag_manifest_writer_open(struct mig_transport *t,
	    const char *bagdir, bool unpublished, struct mig_ctx *ctx,
	    struct mig_bag_manifest_writer **mwp);
int	mig_bag_manifest_writer_add(struct mig_bag_manifest_writer *mw,
	    const char *path, const unsigned char digest[32], uint64_t size);
int	mig_bag_manifest_writer_close(struct mig_bag_manifest_writer *mw,
	    struct mig_bag_manifest *m);
void	mig_bag_manifest_writer_free(struct mig_bag_manifest_writer *mw);

/*
 * The hex SHA-256 of the manifest-sha256.txt that mig_bag_write_tags()
 * would write for m now (recorded in the audit log before the bag is).
 */
int	mig_bag_manifest_digest(const struct mig_bag_manifest *m,
	    char hex[65], struct mig_ctx *ctx);

/* --- Validator --------------------------------------------------------- */

enum mig_bag_kind {
	MIG_BAG_MISSING,	/* in a manifest, absent from the bag */
	MIG_BAG_EXTRA,		/* under data/ but not in every manifest */
	MIG_BAG_ALTERED,	/* checksum mismatch */
	MIG_BAG_TRUNCATED,	/* checksum mismatch and shorter than known */
	MIG_BAG_OXUM,		/* Payload-Oxum differs from the payload */
	MIG_BAG_FETCH,		/* in fetch.txt, not fetched: incomplete */
	MIG_BAG_FORMAT,		/* malformed tag file or refused path */
	MIG_BAG_NKINDS
};

/*
 * path is bag-relative ("data/a.csv.age", "bag-info.txt"; "" for the bag
 * itself) with control characters and '%' shown as %XX, so it prints on
 * one line.
 */
struct mig_bag_finding {
	enum mig_bag_kind	 kind;
	char			*path;
	char			*detail;	/* human-readable, never NULL */
};

/* One parsed bag-info.txt element, in file order. */
struct mig_bag_info_item {
	char	*label;
	char	*value;		/* continuation lines unfolded */
};

struct mig_bag_report {
	char			 version[16];	/* "1.0", or a draft "0.93".."0.97" */
	char			 encoding[32];	/* as declared */
	char			 payload_algs[64]; /* "md5,sha512" */
	char			 tag_algs[64];
	uint64_t		 manifest_entries; /* distinct payload paths */
	uint64_t		 payload_files;	/* regular files under data/ */
	uint64_t		 payload_bytes;
	uint64_t		 files_hashed;
	uint64_t		 bytes_hashed;
	uint64_t		 fetch_entries;
	struct mig_bag_info_item *info;		/* bag-info.txt */
	size_t			 ninfo;
	/* Findings sorted by path then kind; at most max_findings kept. */
	struct mig_bag_finding	*findings;
	size_t			 nfindings;
	size_t			 dropped;	/* counted but not kept */
	size_t			 counts[MIG_BAG_NKINDS];
};

struct mig_bag_validate_opts {
	/*
	 * Known payload sizes (paths relative to data/), e.g. the run's own
	 * manifest: a mismatching file shorter than its known size is
	 * reported as truncated rather than altered.  fetch.txt lengths are
	 * used the same way.  NULL: none.
	 */
	struct mig_bag_manifest	*expect;
	/* Findings kept in the report; 0: 10000. */
	size_t			 max_findings;
	/* Called after each payload file is hashed; NULL: none. */
	void			(*progress)(void *arg, uint64_t files,
				    uint64_t bytes);
	void			*progress_arg;
};

/*
 * Validates the bag in local directory dir (RFC 8493 sections 3 and 4):
 * bagit.txt (version 1.0, or a draft 0.93 to 0.97), every manifest-ALG.txt and
 * tagmanifest-ALG.txt for md5, sha1, sha224, sha256, sha384, sha512,
 * bag-info.txt (Payload-Oxum), fetch.txt.  Every payload file is hashed (once,
 * for all algorithms together).  Names that differ only by Unicode canonical
 * equivalence (NFC vs NFD) match.  Files listed in fetch.txt and absent are
 * reported (MIG_BAG_FETCH): such a bag is not complete, so it is not
 * valid.  Files outside data/ that no tag manifest lists (e.g. _SUCCESS) are
 * ignored.  opts may be NULL.
 *
 * *rep is cleared on entry and filled even on failure; the caller frees
 * it with mig_bag_report_free().  Returns 0 when the bag is valid,
 * MIG_ERR_FORMAT when any finding is MIG_BAG_FORMAT (malformed bag),
 * MIG_ERR_VERIFY when there are other findings, MIG_ERR_IO,
 * MIG_ERR_NOTFOUND, MIG_ERR_NOMEM (or a transport's code) when the bag
 * could not be read.  ctx gets a one-line summary on failure.
 */
int	mig_bag_validate(const char *dir,
	    const struct mig_bag_validate_opts *opts,
	    struct mig_bag_report *rep, struct mig_ctx *ctx);
/* The same for BAGDIR relative to a transport's root. */
int	mig_bag_validate_t(struct mig_transport *t, const char *bagdir,
	    const struct mig_bag_validate_opts *opts,
	    struct mig_bag_report *rep, struct mig_ctx *ctx);

/* Frees what *rep holds (not rep itself) and clears it. */
void	mig_bag_report_free(struct mig_bag_report *rep);

/* First value of a bag-info label (case-insensitive), or NULL.  Borrowed. */
const char *mig_bag_report_info(const struct mig_bag_report *rep,
	    const char *label);

/* "missing", "extra", "altered", "truncated", "oxum", "fetch", "format". */
const char *mig_bag_kind_name(enum mig_bag_kind kind);

/* --- Seal (lib/lake/seal.c) --------------------------------------------- */

struct mig_sign_key;

/* The seal's name in the bag (a tag file no tag manifest lists). */
#define MIG_SEAL_FILE	"seal"
/* Longest seal accepted (the note with its signature lines). */
#define MIG_SEAL_MAX	8192

/*
 * What a run's seal signs: the bag's identity and the hash of its tag
 * manifest (which covers bag-info.txt, manifest-sha256.txt and
 * migrate-manifest.json.age).  Strings are NUL-terminated.
 */
struct mig_seal {
	char	run[32];		/* run id */
	char	dir[1024];		/* the bag, relative to the lake root */
	char	plan[256];		/* plan name */
	char	plan_sha256[65];
	char	tagmanifest_sha256[65];
	char	audit_head[65];		/* the run's Migrate-Audit-Head */
};

/*
 * C2SP signed notes (https://c2sp.org/signed-note), Ed25519 only.
 * mig_note_sign: text (len bytes, ending in a newline) followed by a blank
 * line and "— NAME base64(key id || signature)"; caller frees *notep.
 * mig_note_open: 0 when note[0..len) carries a signature line by (name,
 * key id of pub) that verifies over its text; *textlenp gets the text's
 * length.  MIG_ERR_FORMAT when it is not a note, MIG_ERR_VERIFY when no
 * such signature verifies.
 */
int	mig_note_sign(const struct mig_sign_key *key, const char *name,
	    const char *text, size_t len, char **notep, struct mig_ctx *ctx);
int	mig_note_open(const char *note, size_t len, const char *name,
	    const struct mig_sign_key *pub, size_t *textlenp,
	    struct mig_ctx *ctx);

/*
 * A C2SP signed note of s by key (see lib/lake/seal.c for the format).
 * Caller frees *notep (NUL-terminated).
 */
int	mig_seal_make(const struct mig_sign_key *key, const struct mig_seal *s,
	    char **notep, struct mig_ctx *ctx);
/*
 * Parses note[0..len) and checks its signature under pub.  0 and *s filled
 * when valid; MIG_ERR_FORMAT when it is not a seal; MIG_ERR_VERIFY when no
 * signature by pub verifies.  The caller compares *s with the bag.
 */
int	mig_seal_verify(const char *note, size_t len,
	    const struct mig_sign_key *pub, struct mig_seal *s,
	    struct mig_ctx *ctx);

#endif /* MIGRATE_BAGIT_H */
