/* import-fuzz-check.h - what every import reader's fuzz harness checks on
 * the plan it made (header-only, for fuzz-import-*.c): every user's
 * address parses again to itself, its hash is one the store accepts (or
 * it has none and a reset reason), homes and Maildirs are absolute, every
 * message has a file. */
#ifndef MAILBAG_FUZZ_IMPORT_CHECK_H
#define MAILBAG_FUZZ_IMPORT_CHECK_H

#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "import-plan.h"
#include "password.h"

static void check_plan(const struct import_plan *plan)
{
	const char *why;

	for (size_t i = 0; i < plan->user_count; i++) {
		const struct import_user *u = &plan->users[i];
		struct mb_address again;
		char formatted[MB_ADDRESS_MAX + 1];
		if (mb_address_parse(u->address, NULL, &again, &why) < 0)
			abort();
		mb_address_format(&again, formatted, sizeof(formatted));
		if (strcmp(formatted, u->address) != 0)
			abort();
		if (u->hash != NULL ? mb_password_hash_check(u->hash, &why) < 0 : u->reset_reason == NULL)
			abort();
		if ((u->home != NULL && u->home[0] != '/') || (u->maildir != NULL && u->maildir[0] != '/'))
			abort();
	}
	for (size_t i = 0; i < plan->alias_count; i++) {
		if (plan->aliases[i].target_count == 0 || strchr(plan->aliases[i].source, '@') == NULL)
			abort();
	}
	for (size_t i = 0; i < plan->problem_count; i++) {
		if (plan->problems[i].origin.file == NULL || plan->problems[i].text == NULL)
			abort();
	}
}

#endif
