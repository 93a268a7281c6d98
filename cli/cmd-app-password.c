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
 *	a thief gets, and it can be revoked alone. This file parses the
 *	arguments and prints; the actions are in app-passwords.c.
 */
#include "app-passwords.h"
#include "cli.h"
#include "commands.h"
#include "format.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

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

/* print_made - a new app password, shown this once */
static void print_made(const char *address, const char *name, const char *password, void *context)
{
	const struct cli *cli = context;

	if (cli->json)
		printf("{\"address\": \"%s\", \"app_password\": \"%s\", \"password\": \"%s\"}\n",
		       address, name, password);
	else
		printf("app password %s for %s (shown once): %s\n", name, address, password);
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
	char address[MB_ADDRESS_MAX + 1];
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
	if (strcmp(verb, "add") == 0)
		return cli_app_password_add(cli, address, argv[3], print_made, cli);
	if (strcmp(verb, "del") == 0) {
		exit_code = cli_app_password_del(cli, address, argv[3]);
		if (exit_code == EX_OK && !cli->json)
			printf("deleted app password %s of %s\n", argv[3], address);
		return exit_code;
	}
	if (strcmp(verb, "only") == 0) {
		bool only = strcmp(argv[3], "on") == 0;
		exit_code = cli_app_passwords_only(cli, address, only);
		if (exit_code == EX_OK && !cli->json)
			printf("%s: main password %s\n", address,
			       only ? "no longer logs in (app passwords only)" : "logs in again");
		return exit_code;
	}
	if ((exit_code = cli_app_passwords_get(cli, address, &user)) != EX_OK)
		return exit_code;
	exit_code = app_list(cli, &user);
	mb_user_clear(&user);
	return exit_code;
}
