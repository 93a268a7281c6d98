/* app-passwords.c - a user's per-device passwords
 *
 * SUMMARY
 *	The actions of `mailbag user app-password add|del|only|list`
 *	(cmd-app-password.c parses their arguments and prints what they
 *	did). Each reads the user's record, changes its app passwords and
 *	writes it back: add generates a password, keeps only its {ARGON2ID}
 *	hash and hands the password to the caller once; del removes one;
 *	only says whether the main password still logs in.
 *
 * SECURITY
 *	The generated password is wiped from memory after the callback.
 */
#include "app-passwords.h"
#include "grow.h"
#include "password.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

static int find_app(const struct mb_user *user, const char *name)
{
	for (size_t i = 0; i < user->app_password_count; i++) {
		if (strcmp(user->app_passwords[i].name, name) == 0)
			return (int)i;
	}
	return -1;
}

static int save(struct cli *cli, struct mb_user *user)
{
	char error[1024];
	int ret = mb_store_user_update(cli->store, user, error, sizeof(error));

	return ret < 0 ? cli_fail(cli, cli_store_exit_code(ret), "%s", error) : EX_OK;
}

static int add_to(struct cli *cli, struct mb_user *user, const char *name, cli_app_password_cb *made,
		  void *context)
{
	char password[CLI_APP_PASSWORD_LEN + 1], hash[MB_HASH_MAX];
	const char *error;

	if (find_app(user, name) >= 0)
		return cli_fail(cli, EX_DATAERR, "%s already has an app password named %s; delete it first",
				user->address, name);
	if (user->app_password_count >= MB_APP_PASSWORDS_MAX)
		return cli_fail(cli, EX_DATAERR, "%s has %d app passwords, the most allowed; delete one first",
				user->address, MB_APP_PASSWORDS_MAX);
	/* the record knows its count only: room for exactly that many */
	size_t capacity = user->app_password_count;
	struct mb_app_password *grown = mb_grow(user->app_passwords, &capacity, user->app_password_count + 1,
						sizeof(*grown), 1);
	if (grown == NULL)
		return cli_fail(cli, EX_OSERR, "out of memory");
	user->app_passwords = grown;
	mb_password_generate(password, CLI_APP_PASSWORD_LEN);
	if (mb_password_hash(password, hash, &error) < 0) {
		sodium_memzero(password, sizeof(password));
		return cli_fail(cli, EX_SOFTWARE, "%s", error);
	}
	struct mb_app_password *app = &user->app_passwords[user->app_password_count];
	snprintf(app->name, sizeof(app->name), "%s", name);
	app->hash = strdup(hash);
	app->created = (int64_t)time(NULL);
	sodium_memzero(hash, sizeof(hash));
	if (app->hash == NULL) {
		sodium_memzero(password, sizeof(password));
		return cli_fail(cli, EX_OSERR, "out of memory");
	}
	user->app_password_count++;
	int ret = save(cli, user);
	if (ret == EX_OK)
		made(user->address, name, password, context);
	sodium_memzero(password, sizeof(password));
	return ret;
}

static int del_from(struct cli *cli, struct mb_user *user, const char *name)
{
	int i = find_app(user, name);

	if (i < 0)
		return cli_fail(cli, EX_DATAERR, "%s has no app password named %s", user->address, name);
	free(user->app_passwords[i].hash);
	memmove(&user->app_passwords[i], &user->app_passwords[i + 1],
		(user->app_password_count - (size_t)i - 1) * sizeof(user->app_passwords[0]));
	user->app_password_count--;
	return save(cli, user);
}

int cli_app_passwords_get(struct cli *cli, const char *address, struct mb_user *user_r)
{
	char error[1024];
	int ret = mb_store_user_get(cli->store, address, user_r, error, sizeof(error));

	if (ret <= 0)
		return ret < 0 ? cli_fail(cli, EX_TEMPFAIL, "%s", error) :
				 cli_fail(cli, EX_NOUSER, "user %s does not exist", address);
	return EX_OK;
}

int cli_app_password_add(struct cli *cli, const char *address, const char *name,
			 cli_app_password_cb *made, void *context)
{
	struct mb_user user;
	int ret = cli_app_passwords_get(cli, address, &user);

	if (ret != EX_OK)
		return ret;
	ret = add_to(cli, &user, name, made, context);
	mb_user_clear(&user);
	return ret;
}

int cli_app_password_del(struct cli *cli, const char *address, const char *name)
{
	struct mb_user user;
	int ret = cli_app_passwords_get(cli, address, &user);

	if (ret != EX_OK)
		return ret;
	ret = del_from(cli, &user, name);
	mb_user_clear(&user);
	return ret;
}

int cli_app_passwords_only(struct cli *cli, const char *address, bool only)
{
	struct mb_user user;
	int ret = cli_app_passwords_get(cli, address, &user);

	if (ret != EX_OK)
		return ret;
	user.app_passwords_only = only;
	ret = save(cli, &user);
	mb_user_clear(&user);
	return ret;
}
