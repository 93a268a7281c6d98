/* policy.h - Postfix policy delegation: requests and decisions (see policy.c). */
#ifndef MAILBAG_POLICY_H
#define MAILBAG_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct mb_context;
struct mb_store;

#define POLICY_MAX_REQUEST 8192    /* a whole request, all lines */
#define POLICY_MAX_LINE 1024       /* one "name=value" */
#define POLICY_MAX_ATTRIBUTES 64   /* Postfix 3.7 sends about 30 */
#define POLICY_MAX_ACTION 512

enum policy_parse_result {
	POLICY_PARSE_OK,         /* a whole request (maybe with bad lines) */
	POLICY_PARSE_NEED_MORE,  /* no empty line yet */
	POLICY_PARSE_TOO_LARGE,  /* overlong line or too many attributes */
};

struct policy_attribute {
	const char *name, *value; /* NUL-terminated, in the request's copy */
};

struct policy_request {
	char text[POLICY_MAX_REQUEST + 1];
	struct policy_attribute attributes[POLICY_MAX_ATTRIBUTES];
	size_t count;
	size_t malformed_lines; /* lines without '=' or with a bad name: skipped */
};

/* Parse one request (lines ending in "\n", then an empty line) from the
   start of buf. Pure. On OK, *consumed_r is the request's length. */
enum policy_parse_result
policy_request_parse(const char *buf, size_t len, struct policy_request *req,
		     size_t *consumed_r);

/* The value of an attribute, or NULL. Inline: the check modules ask
   for attributes without calling into policy.c. */
static inline const char *policy_get(const struct policy_request *req, const char *name)
{
	for (size_t i = 0; i < req->count; i++) {
		if (strcmp(req->attributes[i].name, name) == 0)
			return req->attributes[i].value;
	}
	return NULL;
}

/* Working memory for decisions (about 350 KB), made once per process so
   that no request allocates. NULL when out of memory. */
struct policy_scratch;
struct policy_scratch *policy_scratch_new(void);
void policy_scratch_free(struct policy_scratch **scratch);

/* Decide at time now (unix seconds): writes "action=...\n\n" into reply
   and returns its length. A store failure defers; anything we do not
   judge is DUNNO. END-OF-MESSAGE requests count messages for the rate
   limits and are always DUNNO. */
size_t policy_decide(const struct policy_request *req, const struct mb_context *ctx,
		     struct mb_store *store, struct policy_scratch *scratch, int64_t now,
		     char *reply, size_t reply_size);

#endif
