/* host-submission.h - mail the host injects with sendmail (see host-submission.c). */
#ifndef MAILBAG_MILTER_HOST_SUBMISSION_H
#define MAILBAG_MILTER_HOST_SUBMISSION_H

#include <stdbool.h>
#include <sys/socket.h>

/* The {daemon_name} Postfix's cleanup gives non_smtpd_milters with
   milter_macro_daemon_name = $service_name (config-templates/postfix-main.cf) */
#define HOST_SUBMISSION_DAEMON_NAME "cleanup"

/* Whether a milter connection is Postfix's cleanup pretending a client
   for mail from this host's sendmail(1): {daemon_name} is cleanup's (an
   smtpd's is its own service name: no SMTP client sets it), and the
   connection is the one cleanup makes up, "localhost" at 127.0.0.1 (or
   ::1) port 0. Mail re-queued with postsuper -r keeps its first
   client's name and address, and so is not. Pure. */
bool host_submission(const char *daemon_name, const char *hostname, const struct sockaddr *addr);

#endif
