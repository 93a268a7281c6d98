/* host-submission.c - mail the host injects with sendmail
 *
 * SUMMARY
 *	With non_smtpd_milters, mail from sendmail(1) (through postdrop
 *	and pickup) reaches the milter from Postfix's cleanup, which makes
 *	up an SMTP session for it (MILTER_README, "Non-SMTP Milter
 *	applications"; cleanup_milter.c): CONNECT from "localhost" at
 *	127.0.0.1 (::1 when inet_protocols lists IPv6 first) port 0, EHLO
 *	localhost, MAIL FROM the envelope sender, no {auth_authen}; its
 *	{daemon_name} is cleanup's milter_macro_daemon_name. An SMTP client
 *	from 127.0.0.1 looks the same in name and address but never has
 *	port 0, and its {daemon_name} is its smtpd's: the decision rests on
 *	what Postfix itself sets.
 */
#include "host-submission.h"

#include <netinet/in.h>
#include <string.h>
#include <strings.h>

bool host_submission(const char *daemon_name, const char *hostname, const struct sockaddr *addr)
{
	if (daemon_name == NULL || strcmp(daemon_name, HOST_SUBMISSION_DAEMON_NAME) != 0 ||
	    hostname == NULL || strcasecmp(hostname, "localhost") != 0 || addr == NULL)
		return false;
	if (addr->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
		return in->sin_port == 0 && in->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
	}
	if (addr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
		return in6->sin6_port == 0 && IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	}
	return false;
}
