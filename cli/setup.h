/* setup.h - what the parts of `mailbag setup` share (cmd-setup.c, setup-util.c,
 * setup-postfix.c, setup-dovecot.c) */
#ifndef MAILBAG_SETUP_H
#define MAILBAG_SETUP_H

#include "cli.h"

#include <stdbool.h>
#include <sys/types.h>

#define PATH_SIZE 4096

struct setup {
	struct cli *cli;
	const char *root;            /* "" for / */
	const char *hostname;
	char **domains;
	size_t domain_count;
	bool dry_run;
	long smtp_port, submission_port, submissions_port, imap_port, imaps_port;
	int changes;
	long vmail_uid, vmail_gid;
	char context[PATH_SIZE];
	char postfix_dir[PATH_SIZE];
	char dovecot_dir[PATH_SIZE];
};

/* path below --root (root "" for /) */
void setup_in_root(const struct setup *s, const char *path, char *out, size_t size);
/* one change made (or, with --dry-run, one that would be), said on stdout */
void setup_change(struct setup *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* a whole file, NUL-terminated (NULL: unreadable, errno set) */
char *setup_read_text(const char *path);
/* a command, waited for, its stdout into *output when not NULL; 0 or -1 printed */
int setup_run(struct setup *s, char *const argv[], char **output);
/* a file setup owns, written (or said, with --dry-run) when its text differs */
int setup_write_if_changed(struct setup *s, const char *path, const char *text, mode_t mode);
/* PATH.mailbag-backup of the distribution's file, before the first change */
int setup_backup_once(struct setup *s, const char *path);
/* a file of the distribution's (its text old) changed to next: backed up
   first, written only when next differs */
int setup_edit_distribution_file(struct setup *s, const char *path, const char *old, const char *next);
/* a config-templates/ file with @NAME@ filled from name, value pairs (NULL ends) */
char *setup_render(struct setup *s, const char *template_name, const char *const *values);

int setup_postfix_dirs(struct setup *s);
/* setup-srs.c: the SRS secret file, made when missing */
int setup_srs_secrets(struct setup *s);
int setup_postfix_main(struct setup *s);
int setup_postfix_master(struct setup *s);
int setup_dovecot(struct setup *s);
/* setup-sieve.c: the global Sieve directories (context sieve.*), made
   and compiled; their paths; the ManageSieve listener lines for
   90-mailbag.conf ("" when none are needed) */
void setup_sieve_dirs_paths(const struct setup *s, char *before, char *after, size_t size);
int setup_sieve_dirs(struct setup *s, const char *dovecot_conf, bool conf_changed);
void setup_sieve_listener(const struct setup *s, bool dovecot24, char *out, size_t size);
/* setup-host-mail.c: the host's own mail */
int setup_host_mail_check_domains(struct setup *s);
int setup_host_mail_check_store(struct setup *s);
int setup_host_mail_files(struct setup *s);
/* root's system alias to admin (NULL: none known, said) unless it has one */
int setup_system_aliases(struct setup *s, const char *admin);

#endif
