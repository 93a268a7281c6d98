/* lmtp-proto.c - LMTP command and reply lines, parsed without side effects
 *
 * SUMMARY
 *	What mailbag-lmtpd reads from Postfix (commands, RFC 2033 on top of
 *	RFC 5321) and from Dovecot (replies). Pure functions over one line,
 *	so that the libFuzzer harness and the unit tests drive them alone.
 *
 *	Commands: the verb is case-insensitive; MAIL FROM: and RCPT TO: take
 *	a path in angle brackets (an optional source route "@a,@b:" is
 *	dropped), then space-separated parameters of which only SIZE= is
 *	used (BODY=, SMTPUTF8, ORCPT= and the rest are accepted and
 *	ignored). A path holds no control characters, spaces or brackets.
 */
#include "lmtp-proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	enum lmtp_verb verb;
} verbs[] = {
	{ "LHLO", LMTP_LHLO }, { "MAIL", LMTP_MAIL }, { "RCPT", LMTP_RCPT },
	{ "DATA", LMTP_DATA }, { "RSET", LMTP_RSET }, { "NOOP", LMTP_NOOP },
	{ "QUIT", LMTP_QUIT }, { "VRFY", LMTP_VRFY }, { "HELO", LMTP_HELO },
	{ "EHLO", LMTP_EHLO },
};

/* parse_path - "<...>" at p (end: one past the line); *next after it */
static int parse_path(const char *p, const char *end, char path[LMTP_PATH_MAX + 1],
		      const char **next, const char **error_r)
{
	if (p >= end || *p != '<') {
		*error_r = "501 5.5.4 Syntax: the address must be in <>";
		return -1;
	}
	const char *close = memchr(p, '>', (size_t)(end - p));
	if (close == NULL) {
		*error_r = "501 5.5.4 Syntax: no closing >";
		return -1;
	}
	const char *start = p + 1;
	/* a source route "@a,@b:user@domain" is obsolete: only the mailbox counts */
	if (start < close && *start == '@') {
		const char *colon = memchr(start, ':', (size_t)(close - start));
		if (colon == NULL) {
			*error_r = "501 5.1.3 Syntax: a source route without ':'";
			return -1;
		}
		start = colon + 1;
	}
	size_t len = (size_t)(close - start);
	if (len > LMTP_PATH_MAX) {
		*error_r = "501 5.1.3 The address is too long";
		return -1;
	}
	for (const char *q = start; q < close; q++) {
		unsigned char c = (unsigned char)*q;
		if (c <= ' ' || c == 0x7f || c == '<') {
			*error_r = "501 5.1.3 The address holds a space or a control character";
			return -1;
		}
	}
	memcpy(path, start, len);
	path[len] = '\0';
	*next = close + 1;
	return 0;
}

/* parse_parameters - " KEY=VALUE KEY ..." after the path */
static int parse_parameters(const char *p, const char *end, struct lmtp_command *cmd,
			    const char **error_r)
{
	while (p < end) {
		if (*p != ' ') {
			*error_r = "501 5.5.4 Syntax: expected a space before a parameter";
			return -1;
		}
		while (p < end && *p == ' ')
			p++;
		const char *word = p;
		while (p < end && *p != ' ')
			p++;
		size_t len = (size_t)(p - word);
		if (cmd->verb == LMTP_MAIL && len >= 5 && strncasecmp(word, "SIZE=", 5) == 0) {
			char digits[24];
			char *digits_end;
			if (len == 5 || len - 5 >= sizeof(digits) || word[5] < '0' || word[5] > '9') {
				*error_r = "501 5.5.4 Syntax: SIZE= takes a number";
				return -1;
			}
			memcpy(digits, word + 5, len - 5);
			digits[len - 5] = '\0';
			errno = 0;
			cmd->size = strtoull(digits, &digits_end, 10);
			if (errno != 0 || *digits_end != '\0') {
				*error_r = "501 5.5.4 Syntax: SIZE= takes a number";
				return -1;
			}
		}
	}
	return 0;
}

int lmtp_command_parse(const char *line, size_t len, struct lmtp_command *cmd,
		       const char **error_r)
{
	const char *end = line + len;

	memset(cmd, 0, sizeof(*cmd));
	cmd->verb = LMTP_UNKNOWN;
	if (memchr(line, '\0', len) != NULL) {
		*error_r = "500 5.5.2 Syntax: a NUL byte in the command";
		return -1;
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (len >= 4 && strncasecmp(line, verbs[i].name, 4) == 0 &&
		    (len == 4 || line[4] == ' ')) {
			cmd->verb = verbs[i].verb;
			break;
		}
	}
	if (cmd->verb != LMTP_MAIL && cmd->verb != LMTP_RCPT)
		return 0;
	const char *keyword = cmd->verb == LMTP_MAIL ? " FROM:" : " TO:";
	size_t keyword_len = strlen(keyword);
	if (len < 4 + keyword_len || strncasecmp(line + 4, keyword, keyword_len) != 0) {
		*error_r = cmd->verb == LMTP_MAIL ? "501 5.5.4 Syntax: MAIL FROM:<address>" :
						    "501 5.5.4 Syntax: RCPT TO:<address>";
		return -1;
	}
	const char *p = line + 4 + keyword_len, *next;
	while (p < end && *p == ' ')
		p++;
	if (parse_path(p, end, cmd->path, &next, error_r) < 0)
		return -1;
	if (cmd->verb == LMTP_RCPT && cmd->path[0] == '\0') {
		*error_r = "501 5.1.3 Syntax: an empty recipient";
		return -1;
	}
	return parse_parameters(next, end, cmd, error_r);
}

int lmtp_reply_parse(const char *line, size_t len, int *code_r, bool *last_r)
{
	if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
	    line[2] < '0' || line[2] > '9')
		return -1;
	if (len > 3 && line[3] != ' ' && line[3] != '-')
		return -1;
	*code_r = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	*last_r = len == 3 || line[3] == ' ';
	return 0;
}
