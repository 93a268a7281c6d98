/* import-formats.c - the table of the formats `mailbag import` reads: one
 * row per format (its name, its reader, what PATH is). A new format is one
 * reader file and one row here.
 */
#include "import-formats.h"

#include <string.h>

const struct import_format import_formats[] = {
	{ "courier", import_read_courier,
	  "a Courier userdb source file, or a directory of them (/etc/courier/userdb)" },
	{ "mailorama", import_read_mailorama,
	  "a Mail-o-Rama directory: accounts, domains, virtuals, aliases, mail/NAME/Maildir" },
	{ "exim-mibe", import_read_exim_mibe,
	  "a mi-poop-mail (Exim) /srv/mail tree: passwd/, aliases/, exim/conf/, ssl/, DOMAIN/USER/Maildir" },
	{ "postfix-dovecot", import_read_postfix_dovecot,
	  "the dockerised Postfix+Dovecot checkout: settings.env, _server_workspace_/" },
	{ NULL, NULL, NULL },
};

const struct import_format *import_format_find(const char *name)
{
	for (const struct import_format *f = import_formats; f->name != NULL; f++) {
		if (strcmp(f->name, name) == 0)
			return f;
	}
	return NULL;
}
