/* mailbag-db.h - the context, store and caches the passdb and userdb share (see mailbag-db.c). */
#ifndef MAILBAG_DB_H
#define MAILBAG_DB_H

#include "store.h"

struct mb_context;
struct mb_credential_cache;

struct mailbag_db;

/* The shared db for this context file ("": the default); the passdb and
   the userdb must name the same one. 0, or -1 with *error_r. */
int mailbag_db_get(const char *path, struct mailbag_db **db_r, const char **error_r);
void mailbag_db_unref(struct mailbag_db **db);

/* The context and an open store, (re)opened lazily and re-read when the
   context file changed. 0, or -1 with *error_r (logged by the caller). */
int mailbag_db_ready(struct mailbag_db *db, const char **error_r);
const struct mb_context *mailbag_db_context(const struct mailbag_db *db);
struct mb_store *mailbag_db_store(const struct mailbag_db *db);

/* Whether lookups may wait on the network (Redis): Dovecot then runs
   them in auth-worker processes. */
bool mailbag_db_blocking(const struct mailbag_db *db);

/* The user at address (normalised) as the store holds it now: 1 with
   *user_r valid until the next lookup (not to be cleared), 0 unknown, -1
   failure (error). Call after mailbag_db_ready. */
int mailbag_db_user(struct mailbag_db *db, const char *address, const struct mb_user **user_r,
		    char *error, size_t error_size);

/* The user's quota and size limits (the domain's defaults kept the same
   way as users). 0 or -1. */
struct mb_limits;
int mailbag_db_limits(struct mailbag_db *db, const struct mb_user *user, struct mb_limits *limits_r,
		      char *error, size_t error_size);

/* The verified-login cache as the context sets it, or NULL (off, or its
   memory could not be locked). */
struct mb_credential_cache *mailbag_db_credentials(struct mailbag_db *db);

#endif
