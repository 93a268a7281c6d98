/* dkim-rotate.h - a domain's DKIM keys shown, rotated, activated (see dkim-rotate.c). */
#ifndef MAILBAG_CLI_DKIM_ROTATE_H
#define MAILBAG_CLI_DKIM_ROTATE_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "dkim-keys.h"
#include "dkim-rotation.h"

/* Each takes a parsed domain and the loaded context (cli_context());
   EX_OK, or the exit code with the reason printed. */

/* Every key of domain, by selector, said through cb with its record and
   what it does now (signing, pending, retired, unused). EX_NOINPUT when
   no key could be read (nothing said); a failure after that (the
   rotation state, a key that cannot be encoded) is printed and the
   other keys are still said. */
int cli_dkim_show(struct cli *cli, const char *domain, cli_dkim_record_cb *cb, void *context);

/* A rotation, in two steps around making the new pair of keys with
   cli_dkim_keygen(plan.base): cli_dkim_rotate_plan() checks that none is
   under way and notes which keys sign now (they keep signing until the
   new ones may); cli_dkim_rotate_start() records the new pair as
   pending, to sign from plan.signs_from. */
struct cli_dkim_rotation_plan {
	char dir[4096];
	const char *base; /* of the new keys: the one given, or next_base */
	char next_base[CLI_DKIM_SELECTOR_MAX + 1];
	struct mb_dkim_rotation rotation;
	struct mb_dkim_set current;
	int64_t now, signs_from;
};
/* base NULL: today's dated base, or the first of BASE-2..BASE-9 not used */
int cli_dkim_rotate_plan(struct cli *cli, const char *domain, const char *base,
			 struct cli_dkim_rotation_plan *plan_r);
int cli_dkim_rotate_start(struct cli *cli, struct cli_dkim_rotation_plan *plan);

/* One pending key's record looked up in DNS: published, or why not. */
typedef void cli_dkim_checked_cb(const char *name, bool published, const char *why, void *context);
/* Look the pending keys' records up in DNS (each said through checked)
   and, when all are there or force, sign with them from now on
   (signing_r: the set now signing); the keys they replace are retired
   for dkim.retire_after. */
int cli_dkim_activate(struct cli *cli, const char *domain, bool force, cli_dkim_checked_cb *checked,
		      void *context, struct mb_dkim_set *signing_r);

#endif
