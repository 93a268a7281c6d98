/* context-internal.h - what the parts of the context reader share
 *
 * The schema's row type (context-schema.c holds the rows), the parse
 * state with its error sink (context.c), the value converters
 * (context-value.c, context-list.c) and the parser the writer checks its
 * own output with (context-write.c). Not for use outside lib/context*.c.
 */
#ifndef MAILBAG_CONTEXT_INTERNAL_H
#define MAILBAG_CONTEXT_INTERNAL_H

#include "context.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum field_type {
	FIELD_HOSTNAME,
	FIELD_OPTIONAL_HOSTNAME, /* "" or a host name */
	FIELD_STORE,
	FIELD_USER,
	FIELD_DELIMITER,
	FIELD_PATH,
	FIELD_OPTIONAL_PATH,
	FIELD_OPTIONAL_INET,
	FIELD_ID,
	FIELD_MODE,
	FIELD_SIZE,
	FIELD_BOOL,
	FIELD_COUNT,
	FIELD_DURATION,
	FIELD_RATE_LIMITS,
	FIELD_ALLOWLIST,
	FIELD_DOMAIN_LIST,
	FIELD_NODES,
	FIELD_NODE_NAME,
	FIELD_NODE_MAP,
	FIELD_NETWORK_LIST,
	FIELD_DOMAIN_PATTERNS,
	FIELD_CHOICE,
	FIELD_ADDRESS_LIST,
	FIELD_PORT,
	FIELD_CERTIFICATES,
	FIELD_OBJECT,
};

struct field {
	const char *key;
	enum field_type type;
	size_t offset;            /* into struct mb_context */
	const char *default_value; /* as text, parsed like a JSON string */
	const struct field *children; /* FIELD_OBJECT */
	const char *help;          /* what is allowed */
	bool restart;              /* fixed at a daemon's start: a reload
				      keeps the running value (string keys) */
};

#define END_OF_FIELDS { NULL, 0, 0, NULL, NULL, NULL, false }
struct parse_state {
	const char *name;
	char *error;
	size_t error_size;
	bool has_secret; /* a password in the store location */
};

/* the top level of the file; FIELD_OBJECT rows lead to the sections */
extern const struct field context_schema[];

/* the row of a dotted key ("lmtpd.spool_dir"), NULL if none */
const struct field *context_find_field(const char *key);

/* the words of a FIELD_CHOICE, stored as their index (NULL: none) */
const char *const *context_field_choices(const struct field *f);

/* a one-line message "NAME: key 'KEY': ..." into st->error; returns -1 */
int context_fail(struct parse_state *st, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* the same for a file that could not be written; returns -EIO */
int context_fail_io(struct parse_state *st, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* convert one JSON value for the row f and store it in ctx; 0 or -1 */
int context_set_field(struct parse_state *st, const char *key,
		      const struct field *f, json_t *value, struct mb_context *ctx);

/* the list kinds (context-list.c) */
int context_set_rate_limits(struct parse_state *st, const char *key, const struct field *f,
			    json_t *value, struct mb_rate_limits *list);
int context_set_allowlist(struct parse_state *st, const char *key, const struct field *f,
			  json_t *value, struct mb_allowlist *list);
int context_set_domain_list(struct parse_state *st, const char *key, const struct field *f,
			    json_t *value, struct mb_domain_list *list);
int context_set_network_list(struct parse_state *st, const char *key, const struct field *f,
			     json_t *value, struct mb_network_list *list);
int context_set_domain_patterns(struct parse_state *st, const char *key, const struct field *f,
				json_t *value, struct mb_domain_patterns *list);
int context_set_address_list(struct parse_state *st, const char *key, const struct field *f,
			     json_t *value, struct mb_address_list *list);
int context_set_certificates(struct parse_state *st, const char *key, const struct field *f,
			     json_t *value, struct mb_tls_certificates *list);

/* the node maps (context-nodes.c) */
int context_set_nodes(struct parse_state *st, const char *key, const struct field *f,
		      json_t *value, struct mb_lmtp_nodes *list);
int context_set_node_map(struct parse_state *st, const char *key, const struct field *f,
			 json_t *value, struct mb_nodes *list);
/* `node`: "" or a node name other than "local"; 0 or -1 */
int context_check_node_name(struct parse_state *st, const char *key, const struct field *f,
			    const char *value);
/* nodes against lmtpd.nodes, after both are read; 0 or -1 */
int context_check_node_maps(struct parse_state *st, const struct mb_context *ctx);
/* "/path", "IPv4:PORT" or "[IPv6]:PORT" */
bool context_node_address_valid(const char *address);

/* parse text into a new context (state->has_secret set); 0 or -1 */
int context_parse_text(struct parse_state *state, const char *text, size_t len,
		       struct mb_context **ctx_r);

#endif
