/* dkim-rotation.h - which DKIM keys of a domain sign, publish or retire
   (see dkim-rotation.c). */
#ifndef MAILBAG_DKIM_ROTATION_H
#define MAILBAG_DKIM_ROTATION_H

#include <stddef.h>
#include <stdint.h>

#define MB_DKIM_SELECTOR_MAX 63
#define MB_DKIM_SET_MAX 4
#define MB_DKIM_RETIRED_MAX 32
#define MB_DKIM_ROTATION_FILE "rotation.json"

struct mb_dkim_set {
	char selectors[MB_DKIM_SET_MAX][MB_DKIM_SELECTOR_MAX + 1];
	size_t count;
};

struct mb_dkim_rotation {
	struct mb_dkim_set signing;   /* empty: the newest key of each algorithm */
	struct mb_dkim_set pending;   /* published, signing from pending_after on */
	int64_t pending_after;
	struct {
		char selector[MB_DKIM_SELECTOR_MAX + 1];
		int64_t until;            /* keep its record in DNS until then */
	} retired[MB_DKIM_RETIRED_MAX];
	size_t retired_count;
};

/* DOMAIN_DIR/rotation.json: 1 read, 0 absent (rotation zeroed), -1 error. */
int mb_dkim_rotation_read(const char *domain_dir, struct mb_dkim_rotation *rotation,
			  char *error, size_t error_size);
/* Written whole to a new file and renamed over the old one, mode 0640,
   group gid (-1: unchanged). 0 or -1 with error. */
int mb_dkim_rotation_write(const char *domain_dir, const struct mb_dkim_rotation *rotation,
			   long gid, char *error, size_t error_size);
/* The selectors that sign at now: the pending set once its time has
   come, else the signing set; NULL when neither names any (then the
   newest key of each algorithm signs). */
const struct mb_dkim_set *mb_dkim_rotation_active(const struct mb_dkim_rotation *rotation, int64_t now);

#endif
