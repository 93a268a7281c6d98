/* import-apply.h - an import plan checked against the store and written
 * (see import-apply.c). */
#ifndef MAILBAG_IMPORT_APPLY_H
#define MAILBAG_IMPORT_APPLY_H

#include <stdbool.h>

#include "cli.h"
#include "import-plan.h"

/* what becomes of each imported user's Maildir (--mail) */
enum import_mail_mode {
	IMPORT_MAIL_DECIDE, /* moved when on mail_root's filesystem, else left */
	IMPORT_MAIL_MOVE,   /* into mailbag's home for the user */
	IMPORT_MAIL_LEAVE,  /* where it is; the user's home is its directory */
};

struct import_apply_options {
	bool dry_run;
	enum import_mail_mode mail;
};

/* Check plan against the store (cli_store() open): what exists already
   and is the same is left unchanged; what exists and differs, or cannot
   be made, is added to plan's problems (FILE:LINE of its origin). With
   no problem and not dry_run, write it all; print what was made, what
   was unchanged and the notices. EX_OK; EX_DATAERR when the plan has
   problems (nothing written, the caller prints them); another exit code
   printed. */
int import_apply(struct cli *cli, struct import_plan *plan, const struct import_apply_options *options);

/* the parts other helpers carry over (see the marked place in
   import-apply.c); each prints a notice for what it cannot do yet and
   returns how many items it left */
size_t import_apply_system_aliases(struct cli *cli, const struct import_plan *plan, bool dry_run);
size_t import_apply_global_aliases(struct cli *cli, const struct import_plan *plan, bool dry_run);
size_t import_apply_relay_domains(struct cli *cli, const struct import_plan *plan, bool dry_run);
size_t import_apply_relay_networks(struct cli *cli, const struct import_plan *plan, bool dry_run);
size_t import_apply_dkim_required(struct cli *cli, const struct import_plan *plan, bool dry_run);
size_t import_apply_sieve_dirs(struct cli *cli, const struct import_plan *plan, bool dry_run);

#endif
