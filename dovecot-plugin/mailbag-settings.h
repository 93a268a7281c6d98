#ifndef MAILBAG_SETTINGS_H
#define MAILBAG_SETTINGS_H

/* mailbag-settings.h - the Dovecot 2.4 setting of the mailbag auth driver */

struct mailbag_settings {
	pool_t pool;
	/* empty: mb_context_path(NULL), the built-in default */
	const char *mailbag_context_path;
};

extern const struct setting_parser_info mailbag_setting_parser_info;

/* what Dovecot's config process looks up in libmailbag_settings.so */
extern const char *mailbag_settings_version;
extern const struct setting_parser_info *mailbag_settings_set_infos[];

#endif
