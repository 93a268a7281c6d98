/* cmd-init.c - `mailbag init`: the context file, the store, the mail root
 *
 * SUMMARY
 *	Writes a context file with defaults when none exists, then creates
 *	the store and the mail root it names with cli_init_store()
 *	(store-init.c: the owners and modes the daemons need). Running it
 *	again changes nothing.
 */
#include "cli.h"
#include "commands.h"
#include "files.h"
#include "redis-location.h"
#include "store-init.h"

#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

static const char init_usage[] =
	"usage: mailbag init [--hostname NAME] [--store lmdb:/DIR | redis://HOST[:PORT][/DB] | unix:/PATH | sentinel://HOST[:PORT],.../MASTER[/DB]]\n"
	"                    [--vmail-uid N] [--vmail-gid N]\n"
	"\n"
	"Create the context file (if missing), the store and the mail root.\n"
	"Options only apply when the context file is created; edit it after.\n"
	"Safe to run again: what exists is kept.\n";

/* parse_id - a decimal uid or gid; the range is the context schema's */
static int parse_id(struct cli *cli, const char *option, const char *text, long *id_r)
{
	char *end;

	errno = 0;
	*id_r = strtol(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0') {
		cli_fail(cli, EX_USAGE, "%s '%s': expected a number", option, text);
		return -1;
	}
	return 0;
}

static void default_vmail_ids(long *uid, long *gid)
{
	struct passwd *pw = getpwnam("vmail");

	*uid = pw != NULL ? (long)pw->pw_uid : 5000;
	*gid = pw != NULL ? (long)pw->pw_gid : 5000;
}

static int write_context(struct cli *cli, const char *path, const char *hostname,
			 const char *store, long uid, long gid)
{
	char error[1024], dir[4096], host[256];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (cli_mkdir_p(dir, 0755) < 0)
			return cli_fail(cli, EX_CANTCREAT, "cannot create %s: %s", dir, strerror(errno));
	}
	if (hostname == NULL) {
		if (gethostname(host, sizeof(host)) < 0 || strchr(host, '.') == NULL)
			snprintf(host, sizeof(host), "localhost.localdomain");
		hostname = host;
	}
	int ret = mb_context_write_new(path, hostname, store, uid, gid, error, sizeof(error));
	if (ret < 0)
		return cli_fail(cli, ret == -EINVAL ? EX_USAGE : EX_CANTCREAT, "%s", error);
	/* a file closed to others (it holds the store's password) is for
	   the daemons' group to read */
	struct stat st;
	struct passwd *daemon = getpwnam("mailbag");
	if (geteuid() == 0 && stat(path, &st) == 0 && (st.st_mode & S_IROTH) == 0 && daemon != NULL &&
	    chown(path, 0, daemon->pw_gid) < 0)
		return cli_fail(cli, EX_NOPERM, "cannot give %s to group of mailbag: %s", path, strerror(errno));
	printf("wrote %s\n", path);
	return EX_OK;
}

int cmd_init(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
		{ "hostname", required_argument, NULL, 'H' },
		{ "store", required_argument, NULL, 's' },
		{ "vmail-uid", required_argument, NULL, 'u' },
		{ "vmail-gid", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *hostname = NULL, *store = mb_context_default("store");
	const char *path = mb_context_path(cli->context_path);
	long uid, gid;
	int opt, ret;

	cli->command = "init";
	default_vmail_ids(&uid, &gid);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 'H': hostname = optarg; break;
		case 's': store = optarg; break;
		case 'u':
		case 'g':
			if (parse_id(cli, opt == 'u' ? "--vmail-uid" : "--vmail-gid", optarg,
				     opt == 'u' ? &uid : &gid) < 0)
				return EX_USAGE;
			break;
		case 'h': fputs(init_usage, stdout); return EX_OK;
		default: fputs(init_usage, stderr); return EX_USAGE;
		}
	}
	if (optind != argc) {
		fputs(init_usage, stderr);
		return EX_USAGE;
	}
	if (access(path, F_OK) < 0) {
		ret = write_context(cli, path, hostname, store, uid, gid);
		if (ret != EX_OK)
			return ret;
	} else {
		printf("keeping %s\n", path);
	}
	if ((ret = cli_init_store(cli)) != EX_OK)
		return ret;
	char shown[600];
	mb_store_location_redact(cli->ctx->store, shown, sizeof(shown));
	printf("store %s ready, mail root %s\n", shown, cli->ctx->mail_root);
	return EX_OK;
}
