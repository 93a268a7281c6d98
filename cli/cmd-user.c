/* cmd-user.c - `mailbag user add|del|list|passwd|disable|enable|quota`
 *
 * SUMMARY
 *	Mailboxes: an address, a password hash Dovecot verifies, a quota,
 *	a message-size limit, enabled or disabled, and a home under
 *	mail_root. `add` and `passwd` take the password from stdin with
 *	--password-stdin, an existing hash with --hash, or generate one and
 *	print it once. `del` keeps the mailbox on disk unless --purge, and
 *	takes the user out of the aliases naming it (--keep-aliases: not),
 *	so an alias never accepts mail for a mailbox that is gone.
 *	Run as root, `add` (and `user import`) also creates the home, 0700
 *	and owned by the context's vmail_uid:vmail_gid: Pigeonhole's
 *	duplicate database lives there and cannot be opened before it
 *	exists, so without it the first delivery is not deduplicated.
 *	This file parses the arguments, lists the users and prints; the
 *	actions that change a user are in users.c.
 *
 * SECURITY
 *	Plain passwords are wiped from memory after hashing and never
 *	logged; a generated one is printed only to stdout.
 */
#include "cli.h"
#include "commands.h"
#include "domain-list.h"
#include "format.h"
#include "home.h"
#include "last-seen.h"
#include "users.h"
#include "account.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

static const char user_usage[] =
	"usage: mailbag user add [--password-stdin | --hash HASH] [--quota SIZE]\n"
	"                        [--max-message-size SIZE] [--disabled] ADDRESS\n"
	"       mailbag user add --random DOMAIN   (a random address and password)\n"
	"       mailbag user del [--purge] [--keep-aliases] ADDRESS\n"
	"       mailbag user list [--inactive DURATION] [DOMAIN]\n"
	"       mailbag user passwd [--password-stdin | --hash HASH] ADDRESS\n"
	"       mailbag user disable|enable ADDRESS\n"
	"       mailbag user quota ADDRESS SIZE|default\n"
	"       mailbag user node ADDRESS NODE|local  (the Dovecot node of the mailbox)\n"
	"       mailbag user move [--purge | --cancel] ADDRESS NODE  (the mailbox moved\n"
	"                        live to another node; see 'mailbag user move --help')\n"
	"       mailbag user app-password add|list|del|only ...  (per-device passwords)\n"
	"       mailbag user import [--domain D] [--create-domains] [--dry-run] FILE\n"
	"                        (a Dovecot passwd-file; see 'mailbag user import --help')\n"
	"\n"
	"Without --password-stdin or --hash, a password is generated and printed.\n"
	"--hash takes an existing {ARGON2ID}, {SHA512-CRYPT}, {SHA256-CRYPT} or\n"
	"{BLF-CRYPT} hash. SIZE is bytes or a number with K, M, G or T; 0 means\n"
	"no limit; 'default' (or no --quota / --max-message-size) means the\n"
	"domain's default ('mailbag domain limits'), else the context's.\n"
	"del keeps the mailbox on disk unless --purge, and takes the user out of\n"
	"every alias naming it (deleting an alias left with no target), naming\n"
	"each; --keep-aliases leaves them (the socketmap then skips the user).\n"
	"list --inactive 90d\n"
	"shows only users whose last login (or creation, if they never logged in)\n"
	"is older than that; DURATION is seconds or a number with s, m, h or d.\n";

struct user_options {
	bool password_stdin, disabled, purge, random, keep_aliases;
	const char *hash, *quota, *max_message, *inactive;
};

static int parse_options(struct cli *cli, int argc, char **argv,
			 struct user_options *o)
{
	static const struct option options[] = {
		{ "password-stdin", no_argument, NULL, 'p' },
		{ "hash", required_argument, NULL, 'H' },
		{ "quota", required_argument, NULL, 'q' },
		{ "max-message-size", required_argument, NULL, 'm' },
		{ "disabled", no_argument, NULL, 'D' },
		{ "purge", no_argument, NULL, 'P' },
		{ "inactive", required_argument, NULL, 'i' },
		{ "random", no_argument, NULL, 'r' },
		{ "keep-aliases", no_argument, NULL, 'K' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'p': o->password_stdin = true; break;
		case 'H': o->hash = optarg; break;
		case 'q': o->quota = optarg; break;
		case 'm': o->max_message = optarg; break;
		case 'D': o->disabled = true; break;
		case 'P': o->purge = true; break;
		case 'i': o->inactive = optarg; break;
		case 'r': o->random = true; break;
		case 'K': o->keep_aliases = true; break;
		default: fputs(user_usage, stderr); return -1;
		}
	}
	if (o->password_stdin && o->hash != NULL) {
		cli_fail(cli, EX_USAGE, "--password-stdin and --hash exclude each other");
		return -1;
	}
	return 0;
}

/* what a password callback prints with: "added", "password changed", ... */
struct password_print {
	const struct cli *cli;
	const char *verb;
};

static void print_password_result(const char *address, const char *generated, void *context)
{
	const struct password_print *pp = context;
	const struct cli *cli = pp->cli;
	const char *verb = pp->verb;

	if (cli->json) {
		json_t *o = json_pack("{s:s, s:b}", "address", address, verb, 1);
		if (generated[0] != '\0')
			json_object_set_new(o, "password", json_string(generated));
		json_dumpf(o, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(o);
		return;
	}
	printf("%s %s\n", verb, address);
	if (generated[0] != '\0')
		printf("password: %s\n", generated);
}

static void print_deleted(struct cli *cli, const struct user_options *o, const char *address,
			  const struct cli_alias_notes *n)
{
	if (cli->json) {
		json_t *aliases = json_array();
		for (size_t i = 0; i < n->count; i++)
			json_array_append_new(aliases, json_pack("{s:s, s:s}", "source", n->notes[i].source,
								 "action", n->notes[i].action));
		json_t *out = json_pack("{s:s, s:b, s:b, s:o}", "address", address, "deleted", 1,
					"purged", o->purge, "aliases", aliases);
		json_dumpf(out, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(out);
		return;
	}
	printf("deleted %s%s\n", address, o->purge ? " and its mailbox" : " (mailbox kept)");
	for (size_t i = 0; i < n->count; i++) {
		const struct cli_alias_note *a = &n->notes[i];
		if (strcmp(a->action, "kept") == 0)
			printf("alias %s still names %s (--keep-aliases; mail to it skips %s)\n",
			       a->source, address, address);
		else if (strcmp(a->action, "deleted") == 0)
			printf("deleted alias %s (%s was its only target)\n", a->source, address);
		else
			printf("removed %s from alias %s\n", address, a->source);
	}
}

static int user_del(struct cli *cli, const struct user_options *o, const char *address)
{
	struct cli_alias_notes notes;
	int exit_code = cli_user_del(cli, address, o->purge, o->keep_aliases, &notes);

	if (exit_code == EX_OK)
		print_deleted(cli, o, address, &notes);
	if (notes.failed)
		fprintf(stderr, "mailbag: user del: out of memory listing the aliases changed\n");
	free(notes.notes);
	return exit_code;
}

struct list_context {
	struct mb_store *store;
	const struct mb_context *ctx;
	struct cli_domains domains; /* read before the users: their default limits */
	json_t *list; /* NULL: print a table */
	int64_t now;
	int64_t inactive_before; /* list only users last seen before; 0: all */
	char error[512];         /* why the listing stopped, or "" */
};

static int print_user(const struct mb_user *user, void *context)
{
	struct list_context *lc = context;
	uint64_t used = 0, messages = 0;
	char error[256];
	/* usage as Dovecot last reported it; unknown before its first report
	   (or when the state cannot be read: listing goes on) */
	bool known = mb_usage_get(lc->store, user->address, lc->now, &used, &messages,
				  error, sizeof(error)) > 0;
	int64_t seen;
	int logged_in = cli_user_last_seen(lc->store, user, lc->now, &seen, lc->error, sizeof(lc->error));

	/* an unreadable last login would pass for "never": stop instead */
	if (logged_in < 0)
		return 1;
	if (lc->inactive_before != 0 && seen >= lc->inactive_before)
		return 0;
	struct mb_limits limits;
	const char *at = strrchr(user->address, '@');
	mb_limits_resolve(lc->ctx, at != NULL ? cli_domains_find(&lc->domains, at + 1) : NULL,
			  user, &limits);

	if (lc->list != NULL) {
		json_t *entry = json_pack("{s:s, s:b, s:I, s:s, s:I, s:s, s:I, s:s}",
			"address", user->address, "enabled", user->enabled,
			"quota_bytes", (json_int_t)limits.quota_bytes,
			"quota_from", mb_limit_source_name(limits.quota_source),
			"max_message_bytes", (json_int_t)limits.max_message_bytes,
			"max_message_from", mb_limit_source_name(limits.max_message_source),
			"created", (json_int_t)user->created, "home", user->home);
		json_object_set_new(entry, "node", json_string(user->node[0] != '\0' ? user->node : "local"));
		if (user->move.phase != MB_MOVE_NONE)
			json_object_set_new(entry, "move", json_pack("{s:s, s:s, s:s, s:I}",
				"phase", mb_move_phase_name(user->move.phase), "from", user->move.from,
				"to", user->move.to, "started", (json_int_t)user->move.started));
		json_object_set_new(entry, "usage_bytes", known ? json_integer((json_int_t)used) : json_null());
		json_object_set_new(entry, "usage_messages", known ? json_integer((json_int_t)messages) : json_null());
		json_object_set_new(entry, "last_login", logged_in ? json_integer((json_int_t)seen) : json_null());
		json_array_append_new(lc->list, entry);
		return 0;
	}
	char quota[32], size[32] = "-";
	if (known)
		cli_format_size(used, size, sizeof(size));
	cli_format_size(limits.quota_bytes, quota, sizeof(quota));
	char login[16] = "never";
	if (logged_in)
		cli_format_day(seen, login, sizeof(login));
	printf("%-40s %-8s %10s %10s %10s\n", user->address,
	       user->enabled ? "enabled" : "disabled", size, quota, login);
	return 0;
}

static int user_list(struct cli *cli, const struct user_options *o, int argc, char **argv)
{
	char domain[MB_DOMAIN_MAX + 1], error[1024];
	int64_t inactive = 0;
	const char *why;

	if (argc > 1) {
		fputs(user_usage, stderr);
		return EX_USAGE;
	}
	if (argc == 1 && cli_parse_domain(cli, argv[0], domain) < 0)
		return EX_DATAERR;
	if (o->inactive != NULL && (mb_parse_duration(o->inactive, &inactive, &why) < 0 || inactive == 0))
		return cli_fail(cli, EX_USAGE, "--inactive '%s': %s", o->inactive,
				inactive == 0 ? "give a duration such as 90d" : why);
	int64_t now = (int64_t)time(NULL);
	struct list_context lc = { cli->store, cli->ctx, { NULL, 0 }, cli->json ? json_array() : NULL,
				   now, inactive > 0 ? now - inactive : 0, "" };
	if (cli_domains_load(cli, &lc.domains, error, sizeof(error)) < 0) {
		json_decref(lc.list);
		return cli_fail(cli, EX_TEMPFAIL, "%s", error);
	}
	if (lc.list == NULL)
		printf("%-40s %-8s %10s %10s %10s\n", "ADDRESS", "STATE", "USED", "QUOTA", "LAST LOGIN");
	int ret = mb_store_users_foreach(cli->store, argc == 1 ? domain : NULL, print_user,
					 &lc, error, sizeof(error));
	if (ret == 0 && lc.error[0] != '\0') {
		snprintf(error, sizeof(error), "last logins cannot be read: %s", lc.error);
		ret = -1;
	}
	cli_domains_free(&lc.domains);
	return cli_list_done(cli, lc.list, ret, error);
}

static int user_add(struct cli *cli, const struct user_options *o, const char *address)
{
	struct cli_user_options opts = {
		.password = { .hash = o->hash, .from_stdin = o->password_stdin },
		.disabled = o->disabled,
		.set_quota = o->quota != NULL,
		.set_max_message = o->max_message != NULL,
	};
	struct password_print pp = { cli, "added" };

	if (o->quota != NULL && cli_parse_limit(cli, "--quota", o->quota, &opts.quota_bytes) < 0)
		return EX_DATAERR;
	if (o->max_message != NULL &&
	    cli_parse_limit(cli, "--max-message-size", o->max_message, &opts.max_message_bytes) < 0)
		return EX_DATAERR;
	return cli_user_add(cli, address, &opts, print_password_result, &pp);
}

/* user_change - passwd, disable, enable, quota, node */
static int user_change(struct cli *cli, const char *verb, const struct user_options *o,
		       const char *address, const char *arg)
{
	struct cli_password_source password = { .hash = o->hash, .from_stdin = o->password_stdin };
	struct password_print pp = { cli, NULL };
	uint64_t quota;
	int ret;

	if (strcmp(verb, "passwd") == 0) {
		pp.verb = "password changed";
		return cli_user_passwd(cli, address, &password, print_password_result, &pp);
	}
	if (strcmp(verb, "disable") == 0 || strcmp(verb, "enable") == 0) {
		bool enable = strcmp(verb, "enable") == 0;
		pp.verb = enable ? "enabled" : "disabled";
		ret = cli_user_set_enabled(cli, address, enable);
	} else if (strcmp(verb, "node") == 0) {
		pp.verb = "node set";
		ret = cli_user_set_node(cli, address, arg);
	} else {
		pp.verb = "quota set";
		if (cli_parse_limit(cli, "quota", arg, &quota) < 0)
			return EX_DATAERR;
		ret = cli_user_set_quota(cli, address, quota);
	}
	if (ret == EX_OK)
		print_password_result(address, "", &pp);
	return ret;
}

int cmd_user(struct cli *cli, int argc, char **argv)
{
	static char command[32];
	char address[MB_ADDRESS_MAX + 1];
	struct user_options o;
	int exit_code;

	if (argc < 2 || cli_wants_help(argc, argv)) {
		fputs(user_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EX_USAGE : EX_OK;
	}
	const char *verb = argv[1];
	if (strcmp(verb, "import") == 0) {
		cli->command = "user import";
		return cmd_user_import(cli, argc - 1, argv + 1);
	}
	if (strcmp(verb, "move") == 0) {
		cli->command = "user move";
		return cmd_user_move(cli, argc - 1, argv + 1);
	}
	if (strcmp(verb, "app-password") == 0) {
		cli->command = "user app-password";
		return cmd_user_app_password(cli, argc - 1, argv + 1);
	}
	static const char *const verbs[] = { "add", "del", "list", "passwd", "disable", "enable", "quota",
					     "node" };
	size_t v;
	for (v = 0; v < sizeof(verbs) / sizeof(verbs[0]); v++) {
		if (strcmp(verb, verbs[v]) == 0)
			break;
	}
	if (v == sizeof(verbs) / sizeof(verbs[0])) {
		fprintf(stderr, "mailbag: user: unknown command '%s'\n", verb);
		fputs(user_usage, stderr);
		return EX_USAGE;
	}
	snprintf(command, sizeof(command), "user %s", verb);
	cli->command = command;
	if (parse_options(cli, argc - 1, argv + 1, &o) < 0)
		return EX_USAGE;
	int rest = argc - 1 - optind;
	char **args = argv + 1 + optind;
	if (cli_store(cli, &exit_code) < 0)
		return exit_code;
	if (strcmp(verb, "list") == 0)
		return user_list(cli, &o, rest, args);

	int want = strcmp(verb, "quota") == 0 || strcmp(verb, "node") == 0 ? 2 : 1;
	if (rest != want) {
		fputs(user_usage, stderr);
		return EX_USAGE;
	}
	if (strcmp(verb, "add") == 0 && o.random) {
		if (o.password_stdin || o.hash != NULL)
			return cli_fail(cli, EX_USAGE, "--random makes its own password");
		if (cli_user_random_address(cli, args[0], address) != EX_OK)
			return EX_DATAERR;
	} else if (cli_parse_address(cli, args[0], false, address) < 0) {
		return EX_DATAERR;
	}
	if (strcmp(verb, "add") == 0)
		return user_add(cli, &o, address);
	if (strcmp(verb, "del") == 0)
		return user_del(cli, &o, address);
	return user_change(cli, verb, &o, address, want == 2 ? args[1] : NULL);
}
