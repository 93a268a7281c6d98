/* authresults.c - the Authentication-Results field (RFC 8601) the
 * milter adds to inbound mail: the SPF, DKIM and DMARC outcomes that
 * authcheck.c judged, worded as the RFC's method=result pairs with the
 * properties (smtp.mailfrom, header.d/s/a/b, header.from) a reader and a
 * later filter use. Only text: nothing here asks DNS or a library.
 */
#include "authcheck.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

const char *auth_result_name(enum auth_result result)
{
	static const char *const names[] = {
		"none", "pass", "fail", "softfail", "neutral", "policy", "temperror", "permerror",
	};
	return names[result];
}

/* append - printf onto buf at *used; false when it no longer fits */
static bool append(char *buf, size_t size, size_t *used, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static bool append(char *buf, size_t size, size_t *used, const char *fmt, ...)
{
	va_list args;
	int n;

	va_start(args, fmt);
	n = vsnprintf(buf + *used, size - *used, fmt, args);
	va_end(args);
	if (n < 0 || (size_t)n >= size - *used)
		return false;
	*used += (size_t)n;
	return true;
}

int authcheck_format(const struct auth_outcome *out, const char *authserv_id, char *buf, size_t size)
{
	size_t used = 0;
	bool ok = append(buf, size, &used, " %s;\n\tspf=%s smtp.%s=%s", authserv_id,
			 auth_result_name(out->spf), out->spf_from_helo ? "helo" : "mailfrom",
			 out->spf_domain[0] != '\0' ? out->spf_domain : "unknown");
	if (out->dkim_count == 0)
		ok = ok && append(buf, size, &used, ";\n\tdkim=none");
	for (size_t i = 0; ok && i < out->dkim_count; i++) {
		const struct dkim_outcome *o = &out->dkim[i];
		ok = append(buf, size, &used, ";\n\tdkim=%s", auth_result_name(o->result));
		if (ok && o->reason[0] != '\0')
			ok = append(buf, size, &used, " (%s)", o->reason);
		if (ok && o->domain[0] != '\0')
			ok = append(buf, size, &used, " header.d=%s header.s=%s header.a=%s header.b=%s",
				    o->domain, o->selector[0] ? o->selector : "none", o->algorithm,
				    o->b[0] ? o->b : "none");
	}
	if (ok && out->from_domain[0] != '\0')
		ok = append(buf, size, &used, ";\n\tdmarc=%s", auth_result_name(out->dmarc)) &&
			(out->dmarc_policy == 0 || append(buf, size, &used, " (p=%s)",
				out->dmarc_policy == 'r' ? "reject" : out->dmarc_policy == 'q' ?
				"quarantine" : "none")) &&
			append(buf, size, &used, " header.from=%s", out->from_domain);
	return ok ? (int)used : -1;
}
