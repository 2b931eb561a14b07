/* The users and groups created over REST, kept in the data directory (users.json) so that a
 * restart keeps them. Users given by --user flags (or the default administrator) are set by the
 * flags at every start and are not kept: a kept user of the same name is ignored. Credentials
 * are kept as derived SCRAM secrets (salt, iterations, stored and server keys), never as
 * passwords. The file is replaced atomically (a new file, fsync, rename, fsync of the
 * directory). */
#ifndef DV_SERVER_PERSIST_USERS_H
#define DV_SERVER_PERSIST_USERS_H

#include <stddef.h>

#include "divan/error.h"
#include "server/users.h"

typedef struct dv_users_store dv_users_store;

/* Load dir/users.json (absent: nothing) into users, skipping the names users already holds
 * (the flags'), and remember those users as the flags' own. DV_ERR_OK with *out, or an error
 * with a message (a file that does not parse: the server should stop). */
dv_error dv_users_store_open(const char *dir, dv_users *users, dv_users_store **out, char *errbuf,
                             size_t errlen);
/* Write the file if users or groups changed since the last write. Thread-safe. */
void dv_users_store_save(dv_users_store *st);
void dv_users_store_free(dv_users_store *st);

#endif
