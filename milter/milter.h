/* milter.h - mailbag-milter's libmilter callbacks and its policy (see milter.c). */
#ifndef MAILBAG_MILTER_MILTER_H
#define MAILBAG_MILTER_MILTER_H

#include "context.h"
#include "keys.h"

#include <libmilter/mfapi.h>

/* What every connection shares: read-only after start, except the
   store handle (behind its own lock in milter.c) and the key cache. */
struct milter_shared {
	const struct mb_context *ctx;
	struct keys *keys;
};

/* The callbacks, for smfi_register; shared must outlive smfi_main. */
struct smfiDesc milter_description(struct milter_shared *shared);

#endif
