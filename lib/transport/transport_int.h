/*
 * Transport internals shared by the registry (transport.c) and the
 * backends.  Lib-only: not part of the public API.
 */
#ifndef MIGRATE_TRANSPORT_INT_H
#define MIGRATE_TRANSPORT_INT_H

#include "migrate/transport.h"

/* One backend per file, found by scheme in transport.c. */
extern const struct mig_transport_ops mig_transport_file_ops;
extern const struct mig_transport_ops mig_transport_sftp_ops;
extern const struct mig_transport_ops mig_transport_https_ops;
extern const struct mig_transport_ops mig_transport_s3_ops;

#endif /* MIGRATE_TRANSPORT_INT_H */
