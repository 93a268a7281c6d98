/* cmd-user-import.c - `mailbag user import`: users from a Dovecot passwd-file
 *
 * SUMMARY
 *	Moves an existing set-up's users in at once: every line of the file
 *	is parsed (import-passwd.c) and checked before anything changes
 *	(the address, the hash scheme, duplicates in the file, users that
 *	already exist, domains not served), and every refused line is named
 *	with its number. Only a file that passes whole is written, in
 *	transactions of IMPORT_BATCH users, and then, run as root, each
 *	user's home is created (cli_make_home, home.c). --dry-run stops
 *	after the checks.
 *	Hashes are kept as they are: Dovecot goes on verifying the old
 *	SHA512-CRYPT or BLF-CRYPT passwords, and nothing secret is printed.
 */
#include "cli.h"
#include "commands.h"
#include "home.h"
#include "account.h"
#include "import-passwd.h"
#include "grow.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#define IMPORT_BATCH 10000
#define IMPORT_ERRORS_SHOWN 20

static const char import_usage[] =
	"usage: mailbag user import [--domain DOMAIN] [--create-domains] [--dry-run] FILE\n"
	"\n"
	"Add the users of a Dovecot passwd-file (FILE, or - for standard input):\n"
	"  LOGIN:HASH[:UID:GID:GECOS:HOME:SHELL:EXTRA]\n"
	"HASH is {SHA512-CRYPT}, {SHA256-CRYPT}, {BLF-CRYPT}, {ARGON2ID} or {ARGON2I},\n"
	"or a bare crypt string ($6$..., $2y$...); plain-text passwords are refused.\n"
	"An absolute HOME is kept; userdb_quota_rule=*:storage=SIZE in EXTRA sets the\n"
	"quota; UID, GID and other fields are ignored. Blank lines and # comments\n"
	"are skipped.\n"
	"\n"
	"--domain DOMAIN   the domain of logins without @ (mi-poop's passwd/DOMAIN)\n"
	"--create-domains  add the domains not yet served instead of refusing\n"
	"--dry-run         check everything, change nothing\n"
	"\n"
	"The whole file is checked first; if any line is refused, nothing is\n"
	"imported and each refusal names its line.\n";

struct import_row {
	char *address;
	char *hash;
	char *home;       /* NULL: the default */
	uint64_t quota_bytes;
	size_t line;
};

struct import {
	const char *file;
	struct import_row *rows;
	size_t count, alloc;
	size_t errors;
	char **new_domains;
	size_t new_domain_count, new_domain_capacity;
};

static void import_free(struct import *im)
{
	for (size_t i = 0; i < im->count; i++) {
		free(im->rows[i].address);
		free(im->rows[i].hash);
		free(im->rows[i].home);
	}
	free(im->rows);
	for (size_t i = 0; i < im->new_domain_count; i++)
		free(im->new_domains[i]);
	free(im->new_domains);
}

/* refuse_line - report one refused line (the first few of them) */
static void refuse_line(struct cli *cli, struct import *im, size_t line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void refuse_line(struct cli *cli, struct import *im, size_t line, const char *fmt, ...)
{
	va_list ap;

	im->errors++;
	if (im->errors > IMPORT_ERRORS_SHOWN)
		return;
	fprintf(stderr, "mailbag: %s: %s:%zu: ", cli->command, im->file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int add_row(struct import *im, const struct mb_passwd_entry *entry, size_t line)
{
	struct import_row *rows = mb_grow(im->rows, &im->alloc, im->count + 1, sizeof(*rows), 1024);
	if (rows == NULL)
		return -1;
	im->rows = rows;
	struct import_row *row = &im->rows[im->count];
	row->address = strdup(entry->address);
	row->hash = strdup(entry->hash);
	row->home = entry->home[0] != '\0' ? strdup(entry->home) : NULL;
	row->quota_bytes = entry->quota_bytes;
	row->line = line;
	im->count++;
	if (row->address == NULL || row->hash == NULL || (entry->home[0] != '\0' && row->home == NULL))
		return -1;
	return 0;
}

/* read_file - parse every line; refused ones are reported and counted */
static int read_file(struct cli *cli, FILE *f, const char *domain, struct import *im)
{
	char *line = NULL;
	size_t size = 0, number = 0;
	ssize_t len;
	int ret = 0;

	while (ret == 0 && (len = getline(&line, &size, f)) >= 0) {
		struct mb_passwd_entry entry;
		const char *why;
		number++;
		if (len > 0 && line[len - 1] == '\n')
			len--;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		int parsed = mb_passwd_line_parse(line, (size_t)len, domain, &entry, &why);
		if (parsed < 0)
			refuse_line(cli, im, number, "%s", why);
		else if (parsed > 0 && add_row(im, &entry, number) < 0)
			ret = -1;
		explicit_bzero(&entry, sizeof(entry));
	}
	free(line);
	if (ret == 0 && ferror(f))
		return cli_fail(cli, EX_IOERR, "%s: read error", im->file), -1;
	if (ret < 0)
		cli_fail(cli, EX_OSERR, "out of memory after %zu users", im->count);
	return ret;
}

static int compare_rows(const void *a, const void *b)
{
	const struct import_row *x = a, *y = b;
	int c = strcmp(x->address, y->address);
	return c != 0 ? c : (x->line < y->line ? -1 : x->line > y->line);
}

static void check_duplicates(struct cli *cli, struct import *im)
{
	char what[MB_ADDRESS_MAX + 64];

	qsort(im->rows, im->count, sizeof(*im->rows), compare_rows);
	for (size_t i = 1; i < im->count; i++) {
		if (strcmp(im->rows[i].address, im->rows[i - 1].address) != 0)
			continue;
		snprintf(what, sizeof(what), "%s (also on line %zu)", im->rows[i].address, im->rows[i - 1].line);
		refuse_line(cli, im, im->rows[i].line, "%s appears twice", what);
	}
}

/* check_domains - every distinct domain of the file served, or to be
   created (each looked up once; the rows are sorted by address, so one
   domain's rows are not adjacent) */
static int check_domains(struct cli *cli, struct import *im, bool create)
{
	char error[512], **served = NULL;
	size_t served_count = 0, served_capacity = 0;
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < im->count; i++) {
		const char *domain = strrchr(im->rows[i].address, '@') + 1;
		bool seen = false;
		for (size_t d = 0; d < served_count && !seen; d++)
			seen = strcmp(served[d], domain) == 0;
		for (size_t d = 0; d < im->new_domain_count && !seen; d++)
			seen = strcmp(im->new_domains[d], domain) == 0;
		if (seen)
			continue; /* looked up, and reported, once */
		int exists = mb_store_domain_exists(cli->store, domain, error, sizeof(error));
		if (exists < 0) {
			ret = cli_fail(cli, EX_TEMPFAIL, "%s", error);
			break;
		}
		char ***list = exists > 0 ? &served : &im->new_domains;
		size_t *count = exists > 0 ? &served_count : &im->new_domain_count;
		size_t *capacity = exists > 0 ? &served_capacity : &im->new_domain_capacity;
		char **grown = mb_grow(*list, capacity, *count + 1, sizeof(*grown), 0);
		if (grown != NULL)
			*list = grown;
		if (grown == NULL || (grown[*count] = strdup(domain)) == NULL) {
			ret = cli_fail(cli, EX_OSERR, "out of memory");
			break;
		}
		(*count)++;
		if (exists == 0 && !create)
			refuse_line(cli, im, im->rows[i].line,
				    "domain %s is not served here (add it first, or use --create-domains)", domain);
	}
	for (size_t d = 0; d < served_count; d++)
		free(served[d]);
	free(served);
	return ret == 0 ? 0 : -1;
}

static int check_existing(struct cli *cli, struct import *im)
{
	char error[512];

	for (size_t i = 0; i < im->count; i++) {
		struct mb_user user;
		int found = mb_store_user_get(cli->store, im->rows[i].address, &user, error, sizeof(error));
		if (found < 0)
			return cli_fail(cli, EX_TEMPFAIL, "%s", error), -1;
		if (found > 0) {
			mb_user_clear(&user);
			refuse_line(cli, im, im->rows[i].line, "user %s already exists", im->rows[i].address);
		}
	}
	return 0;
}

/* write_batch - rows [from, to) in one transaction */
static int write_batch(struct cli *cli, const struct import *im, size_t from, size_t to,
		       struct mb_user *users, char (*homes)[4096])
{
	char error[1024];

	for (size_t i = from; i < to; i++) {
		struct mb_user *u = &users[i - from];
		mb_account_prepare(cli->ctx, im->rows[i].address, u, homes[i - from], sizeof(homes[0]));
		u->password_hash = im->rows[i].hash;
		if (im->rows[i].home != NULL)
			u->home = im->rows[i].home;
		u->quota_bytes = im->rows[i].quota_bytes;
	}
	int ret = mb_store_users_add(cli->store, users, to - from, error, sizeof(error));
	if (ret < 0)
		return cli_fail(cli, cli_store_exit_code(ret), "%s; %zu of %zu users were imported before it",
				error, from, im->count);
	return EX_OK;
}

static int write_all(struct cli *cli, struct import *im)
{
	char error[1024];
	size_t batch = im->count < IMPORT_BATCH ? im->count : IMPORT_BATCH;
	int ret = EX_OK, home_failure = EX_OK;

	for (size_t d = 0; d < im->new_domain_count; d++) {
		int added = mb_store_domain_add(cli->store, im->new_domains[d], error, sizeof(error));
		if (added < 0 && added != -EEXIST)
			return cli_fail(cli, cli_store_exit_code(added), "%s", error);
	}
	if (batch == 0)
		return EX_OK;
	struct mb_user *users = calloc(batch, sizeof(*users));
	char (*homes)[4096] = calloc(batch, sizeof(*homes));
	if (users == NULL || homes == NULL)
		ret = cli_fail(cli, EX_OSERR, "out of memory");
	for (size_t from = 0; ret == EX_OK && from < im->count; from += batch) {
		size_t to = from + batch < im->count ? from + batch : im->count;
		ret = write_batch(cli, im, from, to, users, homes);
	}
	free(users);
	free(homes);
	/* every user is stored now: then their homes (as root; see
	   cli_make_home), all tried, the first failure is the exit code */
	for (size_t i = 0; ret == EX_OK && i < im->count; i++) {
		struct mb_user u;
		char home[4096];
		mb_account_prepare(cli->ctx, im->rows[i].address, &u, home, sizeof(home));
		int made = cli_make_home(cli, im->rows[i].home != NULL ? im->rows[i].home : home);
		if (made != EX_OK && home_failure == EX_OK)
			home_failure = made;
	}
	return ret != EX_OK ? ret : home_failure;
}

static void print_result(const struct cli *cli, const struct import *im, bool dry_run)
{
	if (cli->json) {
		printf("{\"file\": \"%s\", \"%s\": %zu, \"domains_created\": %zu}\n", im->file,
		       dry_run ? "would_import" : "imported", im->count, im->new_domain_count);
		return;
	}
	printf("%s %zu users from %s", dry_run ? "would import" : "imported", im->count, im->file);
	if (im->new_domain_count > 0)
		printf(" (%s %zu domains)", dry_run ? "adding" : "added", im->new_domain_count);
	putchar('\n');
}

int cmd_user_import(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
		{ "domain", required_argument, NULL, 'd' },
		{ "create-domains", no_argument, NULL, 'c' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	char domain[MB_DOMAIN_MAX + 1];
	const char *domain_arg = NULL;
	bool create = false, dry_run = false;
	int opt, exit_code;

	if (cli_wants_help(argc, argv)) {
		fputs(import_usage, stdout);
		return EX_OK;
	}
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'd': domain_arg = optarg; break;
		case 'c': create = true; break;
		case 'n': dry_run = true; break;
		default: fputs(import_usage, stderr); return EX_USAGE;
		}
	}
	if (argc - optind != 1) {
		fputs(import_usage, stderr);
		return EX_USAGE;
	}
	if (domain_arg != NULL && cli_parse_domain(cli, domain_arg, domain) < 0)
		return EX_DATAERR;
	struct import im = { .file = argv[optind] };
	FILE *f = strcmp(im.file, "-") == 0 ? stdin : fopen(im.file, "r");
	if (f == NULL)
		return cli_fail(cli, EX_NOINPUT, "cannot open %s: %m", im.file);
	if (cli_store(cli, &exit_code) < 0) {
		if (f != stdin)
			fclose(f);
		return exit_code;
	}
	int ret = read_file(cli, f, domain_arg != NULL ? domain : NULL, &im);
	if (f != stdin)
		fclose(f);
	if (ret == 0) {
		check_duplicates(cli, &im);
		ret = check_domains(cli, &im, create);
	}
	if (ret == 0)
		ret = check_existing(cli, &im);
	if (ret < 0) {
		import_free(&im);
		return EX_TEMPFAIL;
	}
	if (im.errors > 0) {
		size_t errors = im.errors;
		import_free(&im);
		return cli_fail(cli, EX_DATAERR, "%zu problem%s%s; nothing was imported", errors,
				errors == 1 ? "" : "s", errors > IMPORT_ERRORS_SHOWN ? " (the first 20 shown)" : "");
	}
	exit_code = dry_run ? EX_OK : write_all(cli, &im);
	if (exit_code == EX_OK)
		print_result(cli, &im, dry_run);
	import_free(&im);
	return exit_code;
}
