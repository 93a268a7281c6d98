/* cmd-init.c - `mailbag init`: the context file, the store, the mail root
 *
 * SUMMARY
 *	Writes a context file with defaults when none exists, then creates
 *	the store and the mail root it names, with the owners and modes the
 *	daemons need: the store belongs to daemon_user and its group (Dovecot's
 *	auth service joins that group), mode 0770/0660; the mail root belongs
 *	to the vmail uid/gid. Running it again changes nothing.
 */
#include "cli.h"
#include "redis-location.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

static const char init_usage[] =
	"usage: mailbag init [--hostname NAME] [--store lmdb:/DIR | redis://HOST[:PORT][/DB] | unix:/PATH]\n"
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

/* own_store - give the store to daemon_user and its group */
static int own_store(struct cli *cli, const char *dir)
{
	static const char *const files[] = { "", "/data.mdb", "/lock.mdb", "/state.mdb", "/state.mdb-lock" };
	struct passwd *pw = getpwnam(cli->ctx->daemon_user);
	char path[PATH_MAX + sizeof("/state.mdb-lock")]; /* dir and the longest of files */

	if (geteuid() != 0)
		return EX_OK;
	if (pw == NULL)
		return cli_fail(cli, EX_NOUSER,
				"daemon_user '%s' does not exist; create it with 'useradd --system --no-create-home %s' and run init again",
				cli->ctx->daemon_user, cli->ctx->daemon_user);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", dir, files[i]);
		if (chown(path, pw->pw_uid, pw->pw_gid) < 0 ||
		    chmod(path, i == 0 ? 0770 : 0660) < 0)
			return cli_fail(cli, EX_NOPERM, "cannot set owner of %s: %s", path, strerror(errno));
	}
	return EX_OK;
}

static int make_mail_root(struct cli *cli)
{
	const char *root = cli->ctx->mail_root;

	if (cli_mkdir_p(root, 0750) < 0)
		return cli_fail(cli, EX_CANTCREAT, "cannot create mail_root %s: %s", root, strerror(errno));
	if (geteuid() == 0 &&
	    chown(root, (uid_t)cli->ctx->vmail_uid, (gid_t)cli->ctx->vmail_gid) < 0)
		return cli_fail(cli, EX_NOPERM, "cannot give %s to uid %ld: %s", root,
				cli->ctx->vmail_uid, strerror(errno));
	return EX_OK;
}

static int count_nothing(const char *domain, void *context)
{
	(void)domain;
	(void)context;
	return 0;
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
	const char *hostname = NULL, *store = "lmdb:/var/lib/mailbag/store";
	const char *path = mb_context_path(cli->context_path);
	char error[1024], store_dir[4096];
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
	if (cli_context(cli, &ret) < 0)
		return ret;

	bool embedded = strncmp(cli->ctx->store, "lmdb:", 5) == 0;
	if (embedded) {
		/* the location was checked by the context parser: "lmdb:/..." */
		snprintf(store_dir, sizeof(store_dir), "%s", strchr(cli->ctx->store, ':') + 1);
		char *slash = strrchr(store_dir, '/');
		if (slash != NULL && slash != store_dir) {
			*slash = '\0';
			if (cli_mkdir_p(store_dir, 0755) < 0)
				return cli_fail(cli, EX_CANTCREAT, "cannot create %s: %s", store_dir, strerror(errno));
			*slash = '/';
		}
	}
	if (mb_store_open(cli->ctx->store, MB_STORE_CREATE, &cli->store,
			  error, sizeof(error)) < 0)
		return cli_fail(cli, EX_CANTCREAT, "%s", error);
	if (embedded && (ret = own_store(cli, store_dir)) != EX_OK)
		return ret;
	/* Redis: prove now that it answers, rather than at the first mail */
	if (!embedded && mb_store_domains_foreach(cli->store, count_nothing, NULL, error, sizeof(error)) < 0)
		return cli_fail(cli, EX_UNAVAILABLE, "%s", error);
	if ((ret = make_mail_root(cli)) != EX_OK)
		return ret;
	char shown[600];
	mb_store_location_redact(cli->ctx->store, shown, sizeof(shown));
	printf("store %s ready, mail root %s\n", shown, cli->ctx->mail_root);
	return EX_OK;
}
