/* import-lines.c - the lines of an import's text file, bounded and checked
 *
 * SUMMARY
 *	Every format `mailbag import` reads is text with one record a
 *	line. This reads a file line by line (at most IMPORT_LINE_MAX
 *	bytes each, CRLF or LF), skips blank lines and # comments, and
 *	refuses lines with NUL or control bytes (tabs are kept: Courier's
 *	userdb separates with one) as problems naming FILE:LINE, so that a
 *	format's reader sees only clean lines.
 */
#include "import-lines.h"
#include "stringify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool import_path_join(char *buf, size_t size, const char *dir, const char *name)
{
	size_t len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		len--;
	return (size_t)snprintf(buf, size, "%.*s/%s", (int)len, dir, name) < size;
}

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

/* check_line - NULs and control bytes refused; 0 good, 1 refused */
static int check_line(const char *file, size_t number, const char *line, size_t len,
		      struct import_plan *plan, int *oom)
{
	const char *why = NULL;

	if (len > IMPORT_LINE_MAX)
		why = "the line is longer than " MB_STRINGIFY(IMPORT_LINE_MAX) " bytes";
	else if (memchr(line, '\0', len) != NULL)
		why = "the line holds a NUL byte";
	for (size_t i = 0; why == NULL && i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			why = "the line holds a control character";
	}
	if (why == NULL)
		return 0;
	if (import_plan_problem(plan, file, number, "%s", why) < 0)
		*oom = 1;
	return 1;
}

int import_lines_read(const char *file, bool required, import_line_fn *fn, void *context,
		      struct import_plan *plan, bool *found_r)
{
	char *line = NULL;
	size_t size = 0, number = 0;
	ssize_t len;
	int oom = 0;

	if (found_r != NULL)
		*found_r = false;
	FILE *f = fopen(file, "r");
	if (f == NULL) {
		if (!required && errno == ENOENT)
			return 0;
		return import_plan_problem(plan, file, 0, "cannot read the file: %s", strerror(errno));
	}
	if (found_r != NULL)
		*found_r = true;
	while (!oom && (len = getline(&line, &size, f)) >= 0) {
		number++;
		if (len > 0 && line[len - 1] == '\n')
			len--;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (check_line(file, number, line, (size_t)len, plan, &oom) != 0)
			continue;
		line[len] = '\0';
		char *start = line, *end = line + len;
		while (start < end && blank(*start))
			start++;
		while (end > start && blank(end[-1]))
			*--end = '\0';
		if (start == end || *start == '#')
			continue;
		if (fn(file, number, start, context) < 0)
			oom = 1;
	}
	bool failed = ferror(f) != 0;
	free(line);
	fclose(f);
	if (!oom && failed)
		return import_plan_problem(plan, file, number, "read error");
	return oom ? -1 : 0;
}
