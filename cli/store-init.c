/* store-init.c - the store and the mail root, made for the daemons
 *
 * SUMMARY
 *	Creates the store the loaded context names and the mail root, with
 *	the owners and modes the daemons need: an LMDB store belongs to
 *	daemon_user and its group (Dovecot's auth service joins that group),
 *	mode 0770/0660; a Redis store is asked once, so that a store that
 *	does not answer fails now rather than at the first mail; the mail
 *	root belongs to the vmail uid/gid. What exists is kept. `mailbag
 *	init` and `mailbag setup` both call cli_init_store().
 */
#include "store-init.h"
#include "files.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

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

int cli_init_store(struct cli *cli)
{
	char error[1024], store_dir[4096];
	int ret;

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
	return make_mail_root(cli);
}
