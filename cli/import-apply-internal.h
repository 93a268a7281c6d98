/* import-apply-internal.h - what import-apply.c shares with
 * import-apply-keys.c (DKIM keys and certificates): one item's state. */
#ifndef MAILBAG_IMPORT_APPLY_INTERNAL_H
#define MAILBAG_IMPORT_APPLY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"
#include "import-plan.h"

enum import_state { IMPORT_NEW, IMPORT_UNCHANGED };

/* made / unchanged counts of one kind, for the summary */
struct import_tally {
	size_t made, unchanged;
};

/* DKIM keys: states[i] for plan->dkim_keys[i]; problems into the plan.
   0, or -1 printed (the store or memory failed). */
int import_check_dkim(struct cli *cli, struct import_plan *plan, enum import_state *states);
int import_write_dkim(struct cli *cli, const struct import_plan *plan, const enum import_state *states,
		      struct import_tally *tally);
/* certificates, the same way (written into the context file, then `tls apply`) */
int import_check_certificates(struct cli *cli, struct import_plan *plan, enum import_state *states);
int import_write_certificates(struct cli *cli, const struct import_plan *plan, const enum import_state *states,
			      struct import_tally *tally);

#endif
