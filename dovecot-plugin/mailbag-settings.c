/* mailbag-settings.c - the setting mailbag_context_path for Dovecot 2.4
 *
 * SUMMARY
 *	passdb mailbag { driver = mailbag  mailbag_context_path = PATH }
 *	userdb mailbag { driver = mailbag  mailbag_context_path = PATH }
 *
 * DESCRIPTION
 *	Dovecot 2.4's config process refuses every setting it does not
 *	know, and learns plugins' settings only from the modules in its
 *	modules/settings directory. This file is built twice: as
 *	libmailbag_settings.so, installed there so the config process
 *	accepts mailbag_context_path (top level, or in a passdb/userdb
 *	block, or in passdb_mailbag/userdb_mailbag filters), and into
 *	libauthdb_mailbag.so, which reads the value with settings_get().
 *	Both must come from one build: the config process hands the auth
 *	process the values in the layout this definition describes.
 *
 *	An empty path (the default) means the built-in default context
 *	file (MAILBAG_CONTEXT, else /etc/mailbag/context.json). A
 *	passdb with driver mailbag defaults to passdb_default_password_scheme
 *	CRYPT, the scheme of hashes stored without a {SCHEME} prefix.
 *
 *	Not built for Dovecot 2.3, whose drivers take an args string.
 */
#include "lib.h"
#include "settings-parser.h"
#include "mailbag-settings.h"

#undef DEF
#define DEF(type, name) \
	SETTING_DEFINE_STRUCT_##type(#name, name, struct mailbag_settings)

static const struct setting_define mailbag_setting_defines[] = {
	{ .type = SET_FILTER_NAME, .key = "passdb_mailbag" },
	{ .type = SET_FILTER_NAME, .key = "userdb_mailbag" },
	DEF(STR_NOVARS, mailbag_context_path),

	SETTING_DEFINE_LIST_END
};

static const struct mailbag_settings mailbag_default_settings = {
	.mailbag_context_path = "",
};

static const struct setting_keyvalue mailbag_default_settings_keyvalue[] = {
	{ "passdb_mailbag/passdb_default_password_scheme", "CRYPT" },
	{ NULL, NULL }
};

const struct setting_parser_info mailbag_setting_parser_info = {
	.name = "mailbag",

	.defines = mailbag_setting_defines,
	.defaults = &mailbag_default_settings,
	.default_settings = mailbag_default_settings_keyvalue,

	.struct_size = sizeof(struct mailbag_settings),
	.pool_offset1 = 1 + offsetof(struct mailbag_settings, pool),
};

const char *mailbag_settings_version = DOVECOT_ABI_VERSION;

const struct setting_parser_info *mailbag_settings_set_infos[] = {
	&mailbag_setting_parser_info,
	NULL
};
