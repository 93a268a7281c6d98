/* cmd-import.c - `mailbag import FORMAT PATH [--dry-run]`: another set-up,
 * moved in at once
 *
 * SUMMARY
 *	The format's reader (import-formats.c) reads the whole tree at PATH
 *	into a plan (import-plan.h) without changing anything; if any line
 *	was refused, every problem is printed as FILE:LINE: reason and
 *	nothing is written (exit 65). Otherwise the applier
 *	(import-apply.c) checks the plan against the store, which may find
 *	more problems (a user that exists with another password), and then
 *	writes domains, users, their Maildirs (--mail), aliases, DKIM keys
 *	and certificates, and prints what it made, what was unchanged and
 *	the notices: what could not be carried over and what to do. A
 *	second run changes nothing and says so. --dry-run stops before
 *	writing.
 */
#include "cli.h"
#include "commands.h"
#include "import-apply.h"
#include "import-formats.h"

#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mailbag import FORMAT PATH [--dry-run] [--mail decide|move|leave] [--maildirs DIR]\n"
		"\n"
		"Move another mail set-up in: its domains, users (old password hashes kept),\n"
		"aliases, DKIM keys, certificates and Maildirs. The whole of PATH is checked\n"
		"first; if any line is refused, each is named as FILE:LINE and nothing is\n"
		"written. A second run changes nothing.\n"
		"\n"
		"formats:\n");
	for (const struct import_format *fmt = import_formats; fmt->name != NULL; fmt++)
		fprintf(f, "  %-16s %s\n", fmt->name, fmt->summary);
	fprintf(f,
		"\n"
		"--dry-run          check and say what would be done, change nothing\n"
		"--mail MODE        each user's Maildir: move (into mailbag's home for the\n"
		"                   user: a rename, or across filesystems a copy then the old\n"
		"                   one removed), leave (in place: the user's home is its\n"
		"                   directory), or decide (default: move when on mail_root's\n"
		"                   filesystem, else leave); the output says which\n"
		"--maildirs DIR     where the Maildirs lie when not where the format keeps them\n"
		"                   (mailorama: DIR/NAME/Maildir instead of PATH/mail/NAME/Maildir;\n"
		"                   exim-mibe: DIR/DOMAIN/USER[/Maildir]; postfix-dovecot:\n"
		"                   DIR/DOMAIN/ADDRESS[/Maildir])\n"
		"\n"
		"See mailbag(1), IMPORTING.\n");
}

static int parse_mail_mode(const char *text, enum import_mail_mode *mode_r)
{
	static const struct { const char *name; enum import_mail_mode mode; } modes[] = {
		{ "decide", IMPORT_MAIL_DECIDE }, { "move", IMPORT_MAIL_MOVE }, { "leave", IMPORT_MAIL_LEAVE },
	};
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(text, modes[i].name) == 0) {
			*mode_r = modes[i].mode;
			return 0;
		}
	}
	return -1;
}

static void print_problems(const struct import_plan *plan)
{
	for (size_t i = 0; i < plan->problem_count; i++) {
		const struct import_message *m = &plan->problems[i];
		if (m->origin.line > 0)
			fprintf(stderr, "%s:%zu: %s\n", m->origin.file, m->origin.line, m->text);
		else
			fprintf(stderr, "%s: %s\n", m->origin.file, m->text);
	}
}

int cmd_import(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "mail", required_argument, NULL, 'm' },
		{ "maildirs", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct import_apply_options apply = { .mail = IMPORT_MAIL_DECIDE };
	struct import_options read_options = { 0 };
	int opt, exit_code;

	cli->command = "import";
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 'n': apply.dry_run = true; break;
		case 'm':
			if (parse_mail_mode(optarg, &apply.mail) < 0)
				return cli_fail(cli, EX_USAGE, "--mail '%s': use decide, move or leave", optarg);
			break;
		case 'd': read_options.maildirs = optarg; break;
		case 'h': usage(stdout); return EX_OK;
		default: usage(stderr); return EX_USAGE;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return EX_USAGE;
	}
	const struct import_format *format = import_format_find(argv[optind]);
	if (format == NULL)
		return cli_fail(cli, EX_USAGE, "unknown format '%s' (see mailbag import --help)", argv[optind]);
	if (cli_store(cli, &exit_code) < 0)
		return exit_code;
	/* absolute, so that homes left in place and messages name real paths */
	char path[PATH_MAX];
	if (realpath(argv[optind + 1], path) == NULL)
		snprintf(path, sizeof(path), "%s", argv[optind + 1]);
	struct import_plan plan;
	import_plan_init(&plan);
	if (format->read(path, &read_options, &plan) < 0) {
		import_plan_free(&plan);
		return cli_fail(cli, EX_OSERR, "out of memory reading %s", argv[optind + 1]);
	}
	exit_code = plan.problem_count == 0 ? import_apply(cli, &plan, &apply) : EX_DATAERR;
	if (exit_code == EX_DATAERR && plan.problem_count > 0) {
		print_problems(&plan);
		cli_fail(cli, EX_DATAERR, "%zu problem%s in %s; nothing was imported", plan.problem_count,
			 plan.problem_count == 1 ? "" : "s", argv[optind + 1]);
	}
	import_plan_free(&plan);
	return exit_code;
}
