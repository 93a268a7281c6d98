/* context.h - the context file /etc/mailbag/context.json (see context.c). */
#ifndef MAILBAG_CONTEXT_H
#define MAILBAG_CONTEXT_H

#include <stddef.h>
#include <stdint.h>

#define MB_CONTEXT_MAX_BYTES (1024 * 1024)

/* The checked, frozen settings. Strings are owned by the context. */
struct mb_context {
	char *hostname;            /* this host's name, used in banners */
	char *store;               /* "lmdb:/var/lib/mailbag/store" */
	char *daemon_user;         /* daemons drop to this user */
	char *recipient_delimiter; /* "+" by default, "" for none */
	char *mail_root;           /* homes are mail_root/domain/local */
	long vmail_uid;            /* owner of the mailboxes */
	long vmail_gid;
	char *socketmap_socket;    /* policyd's socketmap listener */
	char *policy_socket;       /* policyd's policy delegation listener */
	char *socket_group;        /* group that may connect (postfix) */
	unsigned int socket_mode;
	uint64_t default_quota_bytes;       /* 0: no limit */
	uint64_t default_max_message_bytes; /* 0: no limit */
	int check_message_size;    /* policy: SIZE= against recipients' limits */
	int check_sender_login;    /* policy: authenticated senders own their address */
};

/* Read and check path. On error returns -1 and writes a one-line message
   naming the file, the key and what is allowed into error. */
int mb_context_load(const char *path, struct mb_context **ctx_r,
		    char *error, size_t error_size);
/* The same for text already in memory (name is used in messages). */
int mb_context_parse(const char *name, const char *text, size_t len,
		     struct mb_context **ctx_r, char *error, size_t error_size);
void mb_context_free(struct mb_context **ctx);

/* The context file to use: explicit path, else $MAILBAG_CONTEXT, else
   the built-in default. */
const char *mb_context_path(const char *explicit_path);

/* Parse "1048576", "512K", "50M", "2G", "1T" into bytes. 0 or -1. */
int mb_parse_size(const char *text, uint64_t *bytes_r, const char **error_r);

/* Write a new context file with defaults and the given values (atomic,
   mode 0644, refuses to replace an existing file). The values are checked
   with the schema first: a bad one is an error naming its key and
   nothing is written. 0, -EINVAL for a bad value, -EIO when writing
   failed. */
int mb_context_write_new(const char *path, const char *hostname,
			 const char *store, long vmail_uid, long vmail_gid,
			 char *error, size_t error_size);

#endif
