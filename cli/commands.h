/* commands.h - the argv wrappers of `mailbag`'s commands, for main.c's table
 *
 * Each takes the command's own argv (argv[0] its name), parses its
 * options, calls the actions of the helper files and prints; it returns
 * the exit code. cmd_user hands "import" and "app-password" on to the
 * two wrappers of those verbs, which live in files of their own. */
#ifndef MAILBAG_CLI_COMMANDS_H
#define MAILBAG_CLI_COMMANDS_H

#include "cli.h"

typedef int cli_command_fn(struct cli *cli, int argc, char **argv);

cli_command_fn cmd_init, cmd_domain, cmd_user, cmd_alias, cmd_expire, cmd_dkim, cmd_dns, cmd_tls,
	cmd_web, cmd_setup;
/* `import FORMAT PATH` (cmd-import.c) */
cli_command_fn cmd_import;
/* `user import`, `user app-password` and `user move`, argv[0] the verb */
cli_command_fn cmd_user_import, cmd_user_app_password, cmd_user_move;

#endif
