/* setup-srs.c - what `mailbag setup` does for SRS: the secret file
 * (srs.secret_file) made when it is missing, never replaced (that is
 * `mailbag srs rotate`'s work), so a second setup changes nothing.
 */
#include "setup.h"
#include "srs-secrets.h"

#include <stdio.h>
#include <unistd.h>

int setup_srs_secrets(struct setup *s)
{
	char path[PATH_SIZE], error[512];
	bool made;

	if (s->cli->ctx != NULL)
		snprintf(path, sizeof(path), "%s", s->cli->ctx->srs.secret_file);
	else
		setup_in_root(s, mb_context_default("srs.secret_file"), path, sizeof(path));
	if (access(path, F_OK) == 0)
		return 0;
	setup_change(s, "make the SRS secret file %s", path);
	if (s->dry_run)
		return 0;
	if (cli_srs_secrets_write(path, s->cli->ctx->daemon_user, 0, true, &made, error, sizeof(error)) < 0)
		return cli_fail(s->cli, -1, "%s", error);
	return 0;
}
