/* app-passwords.h - a user's per-device passwords (see app-passwords.c). */
#ifndef MAILBAG_CLI_APP_PASSWORDS_H
#define MAILBAG_CLI_APP_PASSWORDS_H

#include <stdbool.h>

#include "cli.h"

#define CLI_APP_PASSWORD_LEN 24

/* Said once a new app password is stored: the password itself, shown
   this once (wiped after the call). */
typedef void cli_app_password_cb(const char *address, const char *name, const char *password,
				 void *context);

/* Each takes a parsed address, a checked name (1 to
   MB_APP_PASSWORD_NAME_MAX of a-z 0-9 . _ -) and the open store
   (cli_store()); EX_OK, or the exit code with the reason printed.
   Nothing is said on stdout. */

/* Generate, hash and store an app password named name, said through made. */
int cli_app_password_add(struct cli *cli, const char *address, const char *name,
			 cli_app_password_cb *made, void *context);
/* Delete the app password named name. */
int cli_app_password_del(struct cli *cli, const char *address, const char *name);
/* only: the main password stops logging in (false: logs in again). */
int cli_app_passwords_only(struct cli *cli, const char *address, bool only);
/* The user's record with its app passwords, into user_r (mb_user_clear it). */
int cli_app_passwords_get(struct cli *cli, const char *address, struct mb_user *user_r);

#endif
