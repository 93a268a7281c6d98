/* login-verify.h - a login's password checked: from the credential cache, in an auth-worker, or here (see login-verify.c). */
#ifndef MAILBAG_LOGIN_VERIFY_H
#define MAILBAG_LOGIN_VERIFY_H

struct auth_request;
struct mailbag_db;
struct mb_user;

/* result: 1 the password verified, 0 it did not (or no hash is usable),
   -1 it could not be checked (an auth-worker failed): an internal
   failure, never a wrong password */
typedef void mailbag_login_verified_t(struct auth_request *request, int result, void *context);

/* Check password against user's main password (unless app passwords
   only), then each app password. Calls verified exactly once, now or
   later; user need not outlive this call. */
void mailbag_login_verify(struct auth_request *request, struct mailbag_db *db,
			  const struct mb_user *user, const char *password,
			  mailbag_login_verified_t *verified, void *context);

#endif
