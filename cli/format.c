/* format.c - sizes and days as `mailbag` prints them
 *
 * SUMMARY
 *	cli_format_size() writes a byte count the way the listings show
 *	quotas and limits ("1.5G", "unlimited" for 0); cli_format_day()
 *	writes a time as its UTC day, the way last logins and creation
 *	dates are shown.
 */
#include "format.h"

#include <stdio.h>
#include <time.h>

void cli_format_size(uint64_t bytes, char *buf, size_t size)
{
	static const char units[] = "BKMGT";
	double v = (double)bytes;
	int u = 0;

	if (bytes == 0) {
		snprintf(buf, size, "unlimited");
		return;
	}
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%lluB", (unsigned long long)bytes);
	else
		snprintf(buf, size, "%.1f%c", v, units[u]);
}

void cli_format_day(int64_t when, char *buf, size_t size)
{
	time_t t = (time_t)when;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, size, "%Y-%m-%d", &tm) == 0)
		snprintf(buf, size, "?");
}

