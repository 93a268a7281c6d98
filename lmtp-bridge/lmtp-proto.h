/* lmtp-proto.h - LMTP command and reply lines (see lmtp-proto.c). */
#ifndef MAILBAG_LMTP_PROTO_H
#define MAILBAG_LMTP_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A path as given between < and > (RFC 5321 allows 256 octets). */
#define LMTP_PATH_MAX 512
/* The longest command line accepted (RFC 5321 4.5.3.1.4 says 512 with
   the CRLF; extensions such as SIZE and BODY fit well within this). */
#define LMTP_COMMAND_MAX 2048

enum lmtp_verb {
	LMTP_LHLO, LMTP_MAIL, LMTP_RCPT, LMTP_DATA, LMTP_RSET, LMTP_NOOP,
	LMTP_QUIT, LMTP_VRFY, LMTP_HELO, LMTP_EHLO, LMTP_UNKNOWN,
};

struct lmtp_command {
	enum lmtp_verb verb;
	char path[LMTP_PATH_MAX + 1]; /* MAIL/RCPT: the address, "" for <> */
	uint64_t size;                /* MAIL SIZE=, 0 when not given */
};

/* Parse one command line (len bytes, without CRLF). Returns 0, or -1
   with *error_r the text of a 501 reply for a syntax error. An unknown
   verb is not an error: verb is LMTP_UNKNOWN. */
int lmtp_command_parse(const char *line, size_t len, struct lmtp_command *cmd,
		       const char **error_r);

/* One line of a server reply: "250-text" or "250 text". Returns 0 with
   the code and whether it is the last line, or -1 if it is not a reply
   line. */
int lmtp_reply_parse(const char *line, size_t len, int *code_r, bool *last_r);

#endif
