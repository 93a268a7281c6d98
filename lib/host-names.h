/* host-names.h - this host's own mail names (see host-names.c). */
#ifndef MAILBAG_HOST_NAMES_H
#define MAILBAG_HOST_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "address.h"

#define MB_HOST_NAMES_MAX 3

/* The names Postfix's "mydestination = $myhostname, localhost.$mydomain,
   localhost" (what `mailbag setup` writes, with myhostname the context's
   hostname) stands for: mail to them is the host's own local mail. */
struct mb_host_names {
	char names[MB_HOST_NAMES_MAX][MB_DOMAIN_MAX + 1];
	size_t count;
};

/* Fill names_r from hostname (case folded). $mydomain is derived as
   Postfix derives it: hostname without its first label when that leaves
   a name with a dot, else "localdomain". Pure. */
void mb_host_names(const char *hostname, struct mb_host_names *names_r);
/* Whether domain (any case) is one of them. */
bool mb_host_names_contain(const struct mb_host_names *names, const char *domain);

#endif
