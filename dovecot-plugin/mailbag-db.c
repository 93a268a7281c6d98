/* mailbag-db.c - the context, store and caches the passdb and userdb share
 *
 * SUMMARY
 *	One per auth (or auth-worker) process: the context file read at the
 *	first lookup and again when it changes, the store it names, and two
 *	caches that keep logins cheap:
 *	  - decoded user and domain records, kept while the store's change
 *	    generation stays (lib/user-cache.c): an unchanged record is not
 *	    read and decoded again, and any change by any process is seen
 *	    at the next lookup;
 *	  - verified logins (lib/credential-cache.c), sized by the context's
 *	    auth.credential_cache_entries and _lifetime, made again (and so
 *	    emptied) when those change.
 *	Whether the context file changed is asked of an inotify watch
 *	(lib/file-watch.c) instead of a stat on every lookup; the file is
 *	stat'ed only when the watch says it may have changed, at most about
 *	once a second otherwise.
 *
 * DIAGNOSTICS
 *	A bad context file or a store that cannot be opened is logged by the
 *	caller once per failing lookup and answered as an internal
 *	(temporary) failure; opening is retried on the next lookup. A broken
 *	edit of a context that worked keeps the settings read before. A
 *	credential cache that cannot be made is logged once; logins are
 *	then verified every time.
 */
#include "lib.h"
#include "auth-common.h"

#include "mailbag-db.h"

#include "account.h"
#include "context.h"
#include "credential-cache.h"
#include "error-text.h"
#include "file-watch.h"
#include "redis-location.h"
#include "user-cache.h"

#include <stdio.h>
#include <sys/stat.h>

/* decoded users kept per process: bounded whatever the number of users */
#define MAILBAG_USER_CACHE_SLOTS 4096

struct mailbag_db {
	int refcount;
	char *context_path;
	struct mb_file_watch *context_watch;
	struct timespec context_mtime; /* of the file ctx was read from */
	struct mb_context *ctx;
	struct mb_store *store;
	struct mb_user_cache *users;   /* of store; emptied when it is reopened */
	struct mb_credential_cache *credentials;
	char error[1024]; /* the last open failure */
};

static struct mailbag_db *mailbag_db;

/* context_changed - the context file was written since it was read: its
   settings (lock-out thresholds, ...) apply from the next login on */
static bool context_changed(struct mailbag_db *db)
{
	struct stat st;

	if (db->context_watch != NULL && !mb_file_watch_maybe_changed(db->context_watch))
		return FALSE;
	if (stat(db->context_path, &st) < 0)
		return FALSE; /* keep what was read; the store open reports */
	return st.st_mtim.tv_sec != db->context_mtime.tv_sec ||
		st.st_mtim.tv_nsec != db->context_mtime.tv_nsec;
}

/* configure_credentials - the credential cache as ctx sets it; a changed
   size or lifetime starts an empty one */
static void configure_credentials(struct mailbag_db *db)
{
	size_t entries = (size_t)db->ctx->auth.credential_cache_entries;
	int64_t lifetime = db->ctx->auth.credential_cache_lifetime;
	struct mb_error_text error;

	if (db->credentials != NULL && entries == mb_credential_cache_entries(db->credentials) &&
	    lifetime == mb_credential_cache_lifetime(db->credentials))
		return;
	mb_credential_cache_free(&db->credentials);
	if (entries == 0)
		return;
	if (mb_credential_cache_create(entries, lifetime, &db->credentials, &error) < 0)
		i_warning("mailbag: %s", error.text);
}

static int load_context(struct mailbag_db *db)
{
	struct mb_context *fresh;
	struct stat st;

	if (stat(db->context_path, &st) == 0)
		db->context_mtime = st.st_mtim;
	if (mb_context_load(db->context_path, &fresh, db->error, sizeof(db->error)) < 0)
		return -1;
	/* opened again: the location, or whether auto-create needs to
	   write, may have changed; what was decoded from the old store is
	   dropped with it */
	mb_store_close(&db->store);
	mb_user_cache_free(&db->users);
	mb_context_free(&db->ctx);
	db->ctx = fresh;
	configure_credentials(db);
	return 0;
}

int mailbag_db_ready(struct mailbag_db *db, const char **error_r)
{
	if ((db->ctx == NULL || context_changed(db)) && load_context(db) < 0) {
		if (db->ctx == NULL) {
			*error_r = db->error;
			return -1;
		}
		/* a broken edit: keep the settings that worked */
		i_error("mailbag: %s (keeping the settings read before)", db->error);
	}
	if (db->store == NULL &&
	    mb_store_open(db->ctx->store,
			  db->ctx->auto_create.domains.count > 0 ? MB_STORE_WRITE : MB_STORE_READ,
			  &db->store, db->error, sizeof(db->error)) < 0) {
		*error_r = db->error;
		return -1;
	}
	if (db->users == NULL) {
		struct mb_error_text error;
		if (mb_user_cache_create(MAILBAG_USER_CACHE_SLOTS, &db->users, &error) < 0) {
			i_snprintf(db->error, sizeof(db->error), "%s", error.text);
			*error_r = db->error;
			return -1;
		}
	}
	return 0;
}

const struct mb_context *mailbag_db_context(const struct mailbag_db *db)
{
	return db->ctx;
}

struct mb_store *mailbag_db_store(const struct mailbag_db *db)
{
	return db->store;
}

bool mailbag_db_blocking(const struct mailbag_db *db)
{
	return db->ctx == NULL || mb_redis_location_is(db->ctx->store);
}

int mailbag_db_user(struct mailbag_db *db, const char *address, const struct mb_user **user_r,
		    char *error, size_t error_size)
{
	return mb_user_cache_get(db->users, db->store, address, user_r, error, error_size);
}

int mailbag_db_limits(struct mailbag_db *db, const struct mb_user *user, struct mb_limits *limits_r,
		      char *error, size_t error_size)
{
	return mb_user_cache_limits(db->users, db->ctx, db->store, user, limits_r, error, error_size);
}

struct mb_credential_cache *mailbag_db_credentials(struct mailbag_db *db)
{
	return db->credentials;
}

/* open_early - whether this process opens the store at start: the auth
   process does; an auth-worker only when the store is Redis (then the
   whole passdb runs in workers). With LMDB a worker only verifies
   hashes (login-verify.c), so the map is not put into it, where it
   would count against the worker's vsz_limit. */
static bool open_early(struct mailbag_db *db)
{
	if (!worker)
		return TRUE;
	if (load_context(db) < 0)
		return TRUE; /* mailbag_db_ready reports it */
	return mb_redis_location_is(db->ctx->store);
}

int mailbag_db_get(const char *path, struct mailbag_db **db_r, const char **error_r)
{
	const char *error;

	if (path[0] == '\0')
		path = mb_context_path(NULL);
	if (mailbag_db != NULL) {
		if (strcmp(mailbag_db->context_path, path) != 0) {
			*error_r = t_strdup_printf(
				"mailbag: passdb and userdb must name the same context file (%s, %s)",
				mailbag_db->context_path, path);
			return -1;
		}
		mailbag_db->refcount++;
		*db_r = mailbag_db;
		return 0;
	}
	mailbag_db = i_new(struct mailbag_db, 1);
	mailbag_db->refcount = 1;
	mailbag_db->context_path = i_strdup(path);
	mailbag_db->context_watch = mb_file_watch_open(path);
	/* first open while still root (preinit), so the store works even
	   before the auth process's groups are set up; failures are
	   retried on each lookup */
	if (open_early(mailbag_db) && mailbag_db_ready(mailbag_db, &error) < 0)
		i_error("mailbag: %s (lookups fail temporarily until this is fixed)", error);
	*db_r = mailbag_db;
	return 0;
}

void mailbag_db_unref(struct mailbag_db **dbp)
{
	struct mailbag_db *db = *dbp;

	*dbp = NULL;
	if (--db->refcount > 0)
		return;
	mb_credential_cache_free(&db->credentials);
	mb_user_cache_free(&db->users);
	mb_store_close(&db->store);
	mb_context_free(&db->ctx);
	mb_file_watch_close(&db->context_watch);
	i_free(db->context_path);
	i_free(db);
	mailbag_db = NULL;
}
