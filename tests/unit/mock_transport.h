/*
 * A failing transport for the unit tests of lib/run: the file backend
 * underneath, and before each operation a value that the test queued
 * with cmocka's will_return() under the name of that operation:
 *
 *   0                  the call goes through to the file backend
 *   a MIG_ERR_* code   the call fails with it, and nothing is done
 *   MOCK_DROP          (publish only) the object is published, then
 *                      removed: a server that acknowledged and lost it
 *   MOCK_SHORT         (publish only) published, then one byte shorter
 *
 * The operations, by the name the test queues values under:
 *
 *   mock_open                           connecting
 *   mock_mkdir                          mkdir_p
 *   mock_put_data, mock_publish_data    open_write / close of an object
 *                                       under a bag's data/
 *   mock_write_data                     each write into such an object
 *   mock_put_marker, mock_publish_marker  the same for a name starting
 *                                       with '_' (_SUCCESS, _ABANDONED)
 *   mock_put_other, mock_publish_other  the same for every other file
 *                                       (tag files, manifests, seals)
 *   mock_read, mock_stat, mock_list, mock_remove
 *
 * Values are taken in the order they were queued.  A test queues what
 * must happen (with a count, never will_return_always) and then calls
 * mock_transport_pass_rest(), which takes them off cmocka's queues (they
 * are per thread, and the run calls its transport from worker threads)
 * and lets every later call of every operation through.
 * mock_transport_all_taken() then says whether the run took every value:
 * whether each failure the test meant to inject was injected.
 */
#ifndef MIGRATE_MOCK_TRANSPORT_H
#define MIGRATE_MOCK_TRANSPORT_H

#include <stdbool.h>

#include "migrate/transport.h"

#define MOCK_DROP	1
#define MOCK_SHORT	2

extern const struct mig_transport_ops mock_transport_ops;

/* Every operation passes from now on (after what is queued already). */
void	mock_transport_pass_rest(void);
/* How often op (a name above) was called since the last reset. */
unsigned mock_transport_calls(const char *op);
/* True when every queued value was taken; prints those that were not. */
bool	mock_transport_all_taken(void);
/* Forget scripts and counts (a test's setup). */
void	mock_transport_reset(void);

#endif /* MIGRATE_MOCK_TRANSPORT_H */
