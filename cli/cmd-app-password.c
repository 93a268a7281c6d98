/* cmd-app-password.c - mailbag user app-password: per-device passwords
 *
 * SUMMARY
 *	mailbag user app-password add ADDRESS NAME
 *	mailbag user app-password list ADDRESS
 *	mailbag user app-password del ADDRESS NAME
 *	mailbag user app-password only ADDRESS on|off
 *
 *	An app password is generated, shown once and stored as an {ARGON2ID}
 *	hash in the user's record; it logs in to IMAP and submission like
 *	the main password (the Dovecot driver tries it when the main one
 *	does not match) and stops working when deleted. "only on" makes the
 *	main password stop logging in, so a phone's leaked password is all
 *	a thief gets, and it can be revoked alone.
 */
#include "cli.h"
#include "commands.h"
#include "format.h"
#include "password.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#define APP_PASSWORD_LEN 24

static const char app_usage[] =
	"usage: mailbag user app-password add ADDRESS NAME\n"
	"       mailbag user app-password list ADDRESS\n"
	"       mailbag user app-password del ADDRESS NAME\n"
	"       mailbag user app-password only ADDRESS on|off\n"
	"\n"
	"NAME names the device (1 to 32 of a-z 0-9 . _ -). add prints the new\n"
	"password once; only the hash is kept. 'only on' stops the main password\n"
	"from logging in.\n";

static bool name_ok(const char *name)
{
	size_t len = strlen(name);

	return len > 0 && len <= MB_APP_PASSWORD_NAME_MAX &&
		strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789._-") == len;
}

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

static int app_add(struct cli *cli, struct mb_user *user, const char *name)
{
	char password[APP_PASSWORD_LEN + 1], hash[MB_HASH_MAX];
	const char *error;

	if (find_app(user, name) >= 0)
		return cli_fail(cli, EX_DATAERR, "%s already has an app password named %s; delete it first",
				user->address, name);
	if (user->app_password_count >= MB_APP_PASSWORDS_MAX)
		return cli_fail(cli, EX_DATAERR, "%s has %d app passwords, the most allowed; delete one first",
				user->address, MB_APP_PASSWORDS_MAX);
	struct mb_app_password *grown = realloc(user->app_passwords,
						(user->app_password_count + 1) * sizeof(*grown));
	if (grown == NULL)
		return cli_fail(cli, EX_OSERR, "out of memory");
	user->app_passwords = grown;
	mb_password_generate(password, APP_PASSWORD_LEN);
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
	if (ret == EX_OK && cli->json)
		printf("{\"address\": \"%s\", \"app_password\": \"%s\", \"password\": \"%s\"}\n",
		       user->address, name, password);
	else if (ret == EX_OK)
		printf("app password %s for %s (shown once): %s\n", name, user->address, password);
	sodium_memzero(password, sizeof(password));
	return ret;
}

static int app_del(struct cli *cli, struct mb_user *user, const char *name)
{
	int i = find_app(user, name);

	if (i < 0)
		return cli_fail(cli, EX_DATAERR, "%s has no app password named %s", user->address, name);
	free(user->app_passwords[i].hash);
	memmove(&user->app_passwords[i], &user->app_passwords[i + 1],
		(user->app_password_count - (size_t)i - 1) * sizeof(user->app_passwords[0]));
	user->app_password_count--;
	int ret = save(cli, user);
	if (ret == EX_OK && !cli->json)
		printf("deleted app password %s of %s\n", name, user->address);
	return ret;
}

static int app_list(struct cli *cli, const struct mb_user *user)
{
	json_t *list = json_array();

	for (size_t i = 0; i < user->app_password_count; i++)
		json_array_append_new(list, json_pack("{s:s, s:I}", "name", user->app_passwords[i].name,
						      "created", (json_int_t)user->app_passwords[i].created));
	if (cli->json) {
		json_t *out = json_pack("{s:s, s:b, s:o}", "address", user->address,
					"only", user->app_passwords_only, "app_passwords", list);
		json_dumpf(out, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(out);
		return EX_OK;
	}
	printf("%s: %zu app password(s)%s\n", user->address, user->app_password_count,
	       user->app_passwords_only ? ", main password does not log in" : "");
	for (size_t i = 0; i < user->app_password_count; i++) {
		char day[16];
		cli_format_day(user->app_passwords[i].created, day, sizeof(day));
		printf("  %-32s created %s\n", user->app_passwords[i].name, day);
	}
	json_decref(list);
	return EX_OK;
}

int cmd_user_app_password(struct cli *cli, int argc, char **argv)
{
	char address[MB_ADDRESS_MAX + 1], error[1024];
	struct mb_user user;
	int exit_code;

	if (argc < 3 || cli_wants_help(argc, argv)) {
		fputs(app_usage, argc < 3 && !cli_wants_help(argc, argv) ? stderr : stdout);
		return argc < 3 && !cli_wants_help(argc, argv) ? EX_USAGE : EX_OK;
	}
	const char *verb = argv[1];
	int want = strcmp(verb, "list") == 0 ? 3 : 4;
	if ((strcmp(verb, "add") != 0 && strcmp(verb, "del") != 0 && strcmp(verb, "list") != 0 &&
	     strcmp(verb, "only") != 0) || argc != want) {
		fputs(app_usage, stderr);
		return EX_USAGE;
	}
	if (cli_parse_address(cli, argv[2], false, address) < 0)
		return EX_DATAERR;
	if (want == 4 && strcmp(verb, "only") != 0 && !name_ok(argv[3]))
		return cli_fail(cli, EX_USAGE, "app password name '%s': 1 to %d of a-z 0-9 . _ -",
				argv[3], MB_APP_PASSWORD_NAME_MAX);
	if (strcmp(verb, "only") == 0 && strcmp(argv[3], "on") != 0 && strcmp(argv[3], "off") != 0)
		return cli_fail(cli, EX_USAGE, "only takes on or off, not '%s'", argv[3]);
	if (cli_store(cli, &exit_code) < 0)
		return exit_code;
	int ret = mb_store_user_get(cli->store, address, &user, error, sizeof(error));
	if (ret <= 0)
		return ret < 0 ? cli_fail(cli, EX_TEMPFAIL, "%s", error) :
				 cli_fail(cli, EX_NOUSER, "user %s does not exist", address);
	if (strcmp(verb, "add") == 0)
		exit_code = app_add(cli, &user, argv[3]);
	else if (strcmp(verb, "del") == 0)
		exit_code = app_del(cli, &user, argv[3]);
	else if (strcmp(verb, "list") == 0)
		exit_code = app_list(cli, &user);
	else {
		user.app_passwords_only = strcmp(argv[3], "on") == 0;
		exit_code = save(cli, &user);
		if (exit_code == EX_OK && !cli->json)
			printf("%s: main password %s\n", address,
			       user.app_passwords_only ? "no longer logs in (app passwords only)" : "logs in again");
	}
	mb_user_clear(&user);
	return exit_code;
}
