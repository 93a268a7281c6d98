/* user-move.h - `mailbag user move`: a mailbox moved to another node (see user-move.c). */
#ifndef MAILBAG_CLI_USER_MOVE_H
#define MAILBAG_CLI_USER_MOVE_H

#include "cli.h"

struct cli_move_options {
	bool purge;   /* once moved, delete the old copy (on the old node) */
	bool cancel;  /* give up a move not yet switched: the mailbox stays */
};

/* Told each step as it starts or ends, one line ("freeze: ..."). */
typedef void cli_move_progress_fn(const char *line, void *context);

/* Move address's mailbox to node target, or go on with the move under
   way (from its phase), or with o->purge delete the old copy of a
   finished one. Run on the node the mailbox leaves. EX_OK, or the exit
   code with the reason printed; EX_TEMPFAIL means run it again. */
int cli_user_move(struct cli *cli, const char *address, const char *target,
		  const struct cli_move_options *o, cli_move_progress_fn *progress, void *context);

#endif
