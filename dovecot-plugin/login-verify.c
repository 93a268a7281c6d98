/* login-verify.c - a login's password checked: from the credential cache, in an auth-worker, or here
 *
 * SUMMARY
 *	The candidates are the user's main password (unless app passwords
 *	only) and each app password, tried in that order until one verifies.
 *
 *	First the credential cache (lib/credential-cache.c): when the same
 *	password verified against the same stored hash for the same user
 *	within auth.credential_cache_lifetime, the login is known good
 *	without the hash. The record was read from the store for this very
 *	login, so a changed password, a revoked app password, a disabled or
 *	deleted user (the caller checks those) is seen at once on every
 *	node; a wrong password is never found there and takes the full path
 *	below, with the same answer and the same delay as without a cache.
 *	With auth debug logging, "mailbag: credential cache hit" or "...
 *	miss" says which way a login went.
 *
 *	Otherwise the hash is verified. In Dovecot's auth process (one
 *	process, one thread, serving every login and lookup) an Argon2id
 *	verification takes tens of milliseconds, during which nothing else
 *	is answered; so, with auth.verify_in_worker (the default), each
 *	candidate goes to an auth-worker process with Dovecot's own PASSW
 *	worker command (what Dovecot's auth_cache_verify_password_with_worker
 *	uses): the workers verify in parallel, on every core, and the auth
 *	process goes on answering. In a worker itself (a Redis store makes
 *	the whole passdb run there) or with verify_in_worker off, the hash
 *	is verified here: the main password by Dovecot
 *	(auth_request_password_verify, which logs a mismatch), app passwords
 *	by libsodium.
 *
 *	A success is remembered in the credential cache, then the caller
 *	learns the result.
 *
 * SECURITY
 *	The password is copied only for the time a worker takes, and wiped
 *	when done; it travels to the worker over Dovecot's own worker socket
 *	as Dovecot's cache verification does. A worker that dies or times
 *	out is an internal failure (temporary), never a wrong password.
 */
#include "lib.h"
#include "str.h"
#include "strescape.h"
#include "safe-memset.h"
#include "auth-common.h"
#include "passdb.h"
#include "password-scheme.h"
#if DOVECOT_PREREQ(2, 4, 0)
#  include "auth-worker-connection.h"
#else
#  include "auth-worker-server.h"
#endif

#include "login-verify.h"
#include "mailbag-db.h"

#include "context.h"
#include "credential-cache.h"
#include "password.h"
#include "store.h"

#include <time.h>

/* symbols of one ABI only, weak: a module of the other ABI is then
   refused by its version, not by an unresolved symbol (as in
   authdb-mailbag.c) */
#if DOVECOT_PREREQ(2, 4, 0)
#  pragma weak auth_request_db_password_verify
#  pragma weak auth_request_db_log_password_mismatch
#else
#  pragma weak auth_default_subsystems
#endif

struct login_candidate {
	char *hash;     /* "{SCHEME}..." as the store holds it */
	char *app_name; /* NULL: the main password */
};

struct login_verify {
	struct auth_request *request;
	struct mailbag_db *db;
	mailbag_login_verified_t *verified;
	void *context;
	char *password; /* wiped when freed */
	char address[MB_ADDRESS_MAX + 1];
	struct login_candidate *candidates;
	unsigned int count, next;
};

/* scheme_prefixed - the stored hash with its {SCHEME} (the passdb's
   default scheme for a bare one), as the worker wants it */
static char *scheme_prefixed(struct auth_request *request, const char *stored)
{
	const char *crypted = stored;
	const char *scheme = password_get_scheme(&crypted);

	if (scheme != NULL)
		return i_strdup(stored);
	return i_strdup_printf("{%s}%s", request->passdb->passdb->default_pass_scheme, stored);
}

static struct login_verify *login_verify_new(struct auth_request *request, struct mailbag_db *db,
					     const struct mb_user *user, const char *password)
{
	struct login_verify *verify = i_new(struct login_verify, 1);

	verify->request = request;
	verify->db = db;
	verify->password = i_strdup(password);
	i_snprintf(verify->address, sizeof(verify->address), "%s", user->address);
	verify->candidates = i_new(struct login_candidate, user->app_password_count + 1);
	if (!user->app_passwords_only)
		verify->candidates[verify->count++].hash = scheme_prefixed(request, user->password_hash);
	for (size_t i = 0; i < user->app_password_count; i++) {
		struct login_candidate *candidate = &verify->candidates[verify->count++];
		candidate->hash = i_strdup(user->app_passwords[i].hash);
		candidate->app_name = i_strdup(user->app_passwords[i].name);
	}
	return verify;
}

static void login_verify_free(struct login_verify *verify)
{
	for (unsigned int i = 0; i < verify->count; i++) {
		i_free(verify->candidates[i].hash);
		i_free(verify->candidates[i].app_name);
	}
	i_free(verify->candidates);
	safe_memset(verify->password, 0, strlen(verify->password));
	i_free(verify->password);
	i_free(verify);
}

/* login_verify_done - remember a verification (not a cache hit: an
   entry's lifetime runs from the verification), tell the caller, free */
static void login_verify_done(struct login_verify *verify, int result, unsigned int index,
			      bool from_cache)
{
	struct mb_credential_cache *cache = mailbag_db_credentials(verify->db);

	if (result > 0) {
		const struct login_candidate *candidate = &verify->candidates[index];
		if (cache != NULL && !from_cache)
			mb_credential_cache_remember(cache, verify->address, verify->password,
						     candidate->hash, (int64_t)time(NULL));
		if (candidate->app_name != NULL)
			e_info(authdb_event(verify->request), "mailbag: app password %s", candidate->app_name);
	}
	verify->verified(verify->request, result, verify->context);
	login_verify_free(verify);
}

/* cached_candidate - the index of a candidate the cache vouches for, or
   -1; every candidate is asked, so the time does not say which */
static int cached_candidate(struct login_verify *verify)
{
	struct mb_credential_cache *cache = mailbag_db_credentials(verify->db);
	int64_t now = (int64_t)time(NULL);
	int found = -1;

	if (cache == NULL)
		return -1;
	for (unsigned int i = 0; i < verify->count; i++) {
		if (mb_credential_cache_hit(cache, verify->address, verify->password,
					    verify->candidates[i].hash, now) && found < 0)
			found = (int)i;
	}
	e_debug(authdb_event(verify->request), "mailbag: credential cache %s", found >= 0 ? "hit" : "miss");
	return found;
}

/* verify_here - 1 when the candidate's hash verifies the password */
static int verify_here(struct login_verify *verify, const struct login_candidate *candidate)
{
	if (candidate->app_name != NULL)
		return mb_password_verify_argon2(verify->password, candidate->hash) == 1 ? 1 : 0;
	const char *crypted = t_strdup(candidate->hash);
	const char *scheme = password_get_scheme(&crypted);
#if DOVECOT_PREREQ(2, 4, 0)
	return auth_request_db_password_verify(verify->request, verify->password, crypted, scheme) ==
		PASSDB_RESULT_OK ? 1 : 0;
#else
	return auth_request_password_verify(verify->request, verify->password, crypted, scheme,
					    AUTH_SUBSYS_DB) > 0 ? 1 : 0;
#endif
}

static void verify_all_here(struct login_verify *verify)
{
	for (unsigned int i = 0; i < verify->count; i++) {
		if (verify_here(verify, &verify->candidates[i]) > 0) {
			login_verify_done(verify, 1, i, FALSE);
			return;
		}
	}
	login_verify_done(verify, 0, 0, FALSE);
}

static void verify_next_on_worker(struct login_verify *verify);

/* worker_result - a PASSW answer: "OK" verified, "FAIL <result>" not
   (an internal failure when the worker could not check) */
static void worker_result(struct login_verify *verify, const char *const *args)
{
	struct auth_request *request = verify->request;
	unsigned int index = verify->next;
	int failure;

	if (args[0] != NULL && strcmp(args[0], "OK") == 0) {
		login_verify_done(verify, 1, index, FALSE);
	} else if (args[0] == NULL || strcmp(args[0], "FAIL") != 0 || args[1] == NULL ||
		   str_to_int(args[1], &failure) < 0 || failure == PASSDB_RESULT_INTERNAL_FAILURE) {
		e_error(authdb_event(request), "mailbag: the auth-worker could not verify the password");
		login_verify_done(verify, -1, 0, FALSE);
	} else if (++verify->next < verify->count) {
		verify_next_on_worker(verify);
		return; /* the new call holds its own reference */
	} else {
		/* the worker's own line does not name the login: say it here,
		   as Dovecot does for a mismatch it found itself */
#if DOVECOT_PREREQ(2, 4, 0)
		auth_request_db_log_password_mismatch(request);
#else
		auth_request_log_password_mismatch(request, AUTH_SUBSYS_DB);
#endif
		login_verify_done(verify, 0, 0, FALSE);
	}
}

#if DOVECOT_PREREQ(2, 4, 0)
static bool worker_answered(struct auth_worker_connection *conn ATTR_UNUSED,
			    const char *const *args, void *context)
{
	struct login_verify *verify = context;
	struct auth_request *request = verify->request;

	worker_result(verify, args);
	auth_request_unref(&request);
	return TRUE;
}
#else
static bool worker_answered(struct auth_worker_connection *conn ATTR_UNUSED,
			    const char *reply, void *context)
{
	struct login_verify *verify = context;
	struct auth_request *request = verify->request;

	worker_result(verify, t_strsplit_tabescaped(reply));
	auth_request_unref(&request);
	return TRUE;
}
#endif

/* verify_next_on_worker - Dovecot's PASSW: passdb id, password, hash,
   then the request as a worker imports it */
static void verify_next_on_worker(struct login_verify *verify)
{
	struct auth_request *request = verify->request;
	string_t *command = t_str_new(256);

	str_printfa(command, "PASSW\t%u\t", request->passdb->passdb->id);
	str_append_tabescaped(command, verify->password);
	str_append_c(command, '\t');
	str_append_tabescaped(command, verify->candidates[verify->next].hash);
	str_append_c(command, '\t');
	auth_request_export(request, command);
	auth_request_ref(request);
	auth_worker_call(request->pool, request->fields.user, str_c(command), worker_answered, verify);
	safe_memset(buffer_get_modifiable_data(command, NULL), 0, str_len(command));
}

void mailbag_login_verify(struct auth_request *request, struct mailbag_db *db,
			  const struct mb_user *user, const char *password,
			  mailbag_login_verified_t *verified, void *context)
{
	struct login_verify *verify = login_verify_new(request, db, user, password);
	const struct mb_context *ctx = mailbag_db_context(db);

	verify->verified = verified;
	verify->context = context;
	int cached = cached_candidate(verify);
	if (cached >= 0) {
		login_verify_done(verify, 1, (unsigned int)cached, TRUE);
		return;
	}
	if (verify->count == 0) {
		login_verify_done(verify, 0, 0, FALSE);
		return;
	}
	if (!worker && ctx != NULL && ctx->auth.verify_in_worker) {
		verify_next_on_worker(verify);
		return;
	}
	verify_all_here(verify);
}
