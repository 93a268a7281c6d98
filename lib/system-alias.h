/* system-alias.h - the host's own aliases: root, www-data... (see system-alias.c). */
#ifndef MAILBAG_SYSTEM_ALIAS_H
#define MAILBAG_SYSTEM_ALIAS_H

#include <stdbool.h>
#include <stddef.h>

#include "address.h"
#include "host-names.h"
#include "store.h"

/* A system alias NAME is the aliases table's record of "NAME@*system":
   "*..." is never a domain (policyd's virtual_alias_maps never answers
   it as one), so the records share the aliases' transactions, caches
   and change generation without a table of their own. */
#define MB_SYSTEM_ALIAS_DOMAIN "*system"

/* A host account name as mail names it ("root", "www-data",
   "MAILER-DAEMON"): 1 to MB_LOCAL_MAX of a-z 0-9 . _ -, starting with a
   letter, digit or '_', folded to lower case. 0, or -1 with *error_r.
   Pure. */
int mb_system_alias_name_parse(const char *text, char name_r[MB_LOCAL_MAX + 1],
			       const char **error_r);
/* Whether an alias record's source is a system alias's; its name into
   name_r (may be NULL). */
bool mb_alias_system_name(const char *source, char name_r[MB_LOCAL_MAX + 1]);
/* A target local(8)'s alias rules could not misread: a plain
   local@domain address, never "|command", "/file" or ":include:". */
bool mb_system_alias_target_ok(const char *target);

/* The store's side, as mb_store_alias_*: get 1/0/-1 (alias_r to
   clear; its source is "NAME@" MB_SYSTEM_ALIAS_DOMAIN), add and del 0 or
   a negative errno with error. */
int mb_system_alias_get(struct mb_store *store, const char *name, struct mb_alias *alias_r,
			char *error, size_t error_size);
int mb_system_alias_add(struct mb_store *store, const char *name, const char *const *targets,
			size_t count, char *error, size_t error_size);
int mb_system_alias_del(struct mb_store *store, const char *name, const char *const *targets,
			size_t count, char *error, size_t error_size);
int mb_system_aliases_foreach(struct mb_store *store, mb_alias_cb *cb, void *context,
			      char *error, size_t error_size);

/* Whether a virtual_alias_maps key (lower case) is an address at one of
   the host's names: 1 with the system alias name it asks for in name_r
   (the local part without its +detail, after one of delimiters; "" when
   it is no account name: nothing answers it), 0 when it is not. Pure. */
int mb_system_alias_key(const struct mb_host_names *names, const char *delimiters, const char *key,
			char name_r[MB_LOCAL_MAX + 1]);
/* The live targets of name's system alias (live as mb_store_route
   counts them: not a missing or disabled user here; and plain
   addresses only): 1 with live_r to clear, 0 none (no alias, or none
   live), -1 the store failed (error). */
int mb_system_alias_live(struct mb_store *store, const char *delimiters, const char *name,
			 struct mb_alias *live_r, char *error, size_t error_size);

#endif
