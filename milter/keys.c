/* keys.c - DKIM private keys for mailbag-milter's signer.
 *
 * `mailbag dkim keygen` writes DIR/DOMAIN/SELECTOR.key (PKCS#8 PEM, 0640
 * root:daemon group). Each domain's keys are parsed on first use and kept;
 * the domain's directory is looked at again at most once a second, and
 * when its modification time has changed its keys are read again, so a
 * new key is used without a restart. Which keys sign: those
 * rotation.json names (lib/dkim-rotation.c), else the newest of each
 * algorithm; a pending pair starts at its time. A key file that others can read is
 * never used (and at start-up stops the milter): it is no longer private.
 */
#include "keys.h"
#include "dkim-rotation.h"
#include "grow.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

struct domain_keys {
	char domain[MB_DOMAIN_MAX + 1];
	time_t checked_at;          /* when the directory was last looked at */
	struct timespec dir_mtime;  /* as it was when the keys were read */
	bool dir_exists;
	int count;
	struct dkim_signing_key keys[KEYS_PER_DOMAIN];
	time_t switch_at;           /* a pending pair starts signing then (0: none) */
};

struct keys {
	char *key_dir;
	pthread_mutex_t lock;
	struct domain_keys *domains;
	size_t count, capacity;
};

struct keys *keys_new(const char *key_dir)
{
	struct keys *keys = calloc(1, sizeof(*keys));

	if (keys == NULL || (keys->key_dir = strdup(key_dir)) == NULL) {
		free(keys);
		return NULL;
	}
	pthread_mutex_init(&keys->lock, NULL);
	return keys;
}

void keys_release(struct dkim_signing_key *keys, int count)
{
	for (int i = 0; i < count; i++) {
		EVP_PKEY_free(keys[i].pkey);
		keys[i].pkey = NULL;
	}
}

void keys_free(struct keys **keysp)
{
	struct keys *keys = *keysp;

	if (keys == NULL)
		return;
	for (size_t i = 0; i < keys->count; i++)
		keys_release(keys->domains[i].keys, keys->domains[i].count);
	free(keys->domains);
	free(keys->key_dir);
	pthread_mutex_destroy(&keys->lock);
	free(keys);
	*keysp = NULL;
}

/* load_key - one SELECTOR.key file; NULL (error written) when unusable */
static EVP_PKEY *load_key(const char *path, char *error, size_t error_size)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	EVP_PKEY *pkey = NULL;

	if (fd < 0) {
		snprintf(error, error_size, "cannot open DKIM key %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(error, error_size, "DKIM key %s is not a regular file", path);
	} else if ((st.st_mode & 0007) != 0) {
		snprintf(error, error_size,
			 "DKIM key %s can be read by anyone (mode %04o): it is no longer private; "
			 "make a new key (mailbag dkim keygen) and delete this one",
			 path, (unsigned)(st.st_mode & 07777));
	} else {
		FILE *f = fdopen(fd, "r");
		if (f != NULL) {
			fd = -1;
			pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
			fclose(f);
		}
		if (pkey == NULL)
			snprintf(error, error_size, "DKIM key %s is not a PEM private key", path);
	}
	if (fd >= 0)
		close(fd);
	return pkey;
}

/* key_algorithm - 0 and the algorithm for RSA of 1024 bits or more and
   Ed25519; -1 for anything else */
static int key_algorithm(EVP_PKEY *pkey, enum dkim_algorithm *algorithm_r)
{
	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_RSA:
		*algorithm_r = DKIM_RSA_SHA256;
		return EVP_PKEY_get_bits(pkey) >= 1024 ? 0 : -1;
	case EVP_PKEY_ED25519:
		*algorithm_r = DKIM_ED25519_SHA256;
		return 0;
	default:
		return -1;
	}
}

static bool key_file_name(const char *name, char selector_r[MB_DKIM_SELECTOR_MAX + 1])
{
	size_t len = strlen(name);

	if (len < 5 || len - 4 > MB_DKIM_SELECTOR_MAX || strcmp(name + len - 4, ".key") != 0 || name[0] == '.')
		return false;
	memcpy(selector_r, name, len - 4);
	selector_r[len - 4] = '\0';
	return true;
}

#define KEYS_READ_MAX 32
/* KEY_DIR/DOMAIN, and a key file in it: SELECTOR.key */
#define DOMAIN_DIR_SIZE 512
#define KEY_PATH_SIZE (DOMAIN_DIR_SIZE + 1 + MB_DKIM_SELECTOR_MAX + sizeof(".key"))

/* read_domain - the keys of DIR/DOMAIN that sign now: those the rotation
   file names (rotation.json, see lib/dkim-rotation.c), else the newest of
   each algorithm */
static void read_domain(const char *key_dir, struct domain_keys *d, time_t now)
{
	char dir[DOMAIN_DIR_SIZE], path[KEY_PATH_SIZE], error[512];
	struct dkim_signing_key found[KEYS_READ_MAX];
	struct mb_dkim_rotation rotation;
	size_t found_count = 0;
	DIR *dh;
	struct dirent *de;

	keys_release(d->keys, d->count);
	d->count = 0;
	d->switch_at = 0;
	snprintf(dir, sizeof(dir), "%s/%s", key_dir, d->domain);
	dh = opendir(dir);
	if (dh == NULL) {
		if (errno != ENOENT)
			mb_error("dkim: cannot read key directory %s: %s", dir, strerror(errno));
		return;
	}
	while ((de = readdir(dh)) != NULL && found_count < KEYS_READ_MAX) {
		char selector[MB_DKIM_SELECTOR_MAX + 1];
		enum dkim_algorithm algorithm;
		if (!key_file_name(de->d_name, selector))
			continue;
		snprintf(path, sizeof(path), "%s/%s.key", dir, selector);
		EVP_PKEY *pkey = load_key(path, error, sizeof(error));
		if (pkey == NULL) {
			mb_error("dkim: %s; not signing with it", error);
			continue;
		}
		if (key_algorithm(pkey, &algorithm) < 0) {
			mb_error("dkim: %s is neither an RSA key of 1024 bits or more nor an Ed25519 key; not signing with it", path);
			EVP_PKEY_free(pkey);
			continue;
		}
		struct dkim_signing_key *k = &found[found_count++];
		k->pkey = pkey;
		k->algorithm = algorithm;
		snprintf(k->selector, sizeof(k->selector), "%s", selector);
		snprintf(k->domain, sizeof(k->domain), "%s", d->domain);
	}
	closedir(dh);
	int have_rotation = mb_dkim_rotation_read(dir, &rotation, error, sizeof(error));
	if (have_rotation < 0)
		mb_error("dkim: %s; signing with the newest keys of %s", error, d->domain);
	const struct mb_dkim_set *active = have_rotation > 0 ?
		mb_dkim_rotation_active(&rotation, (int64_t)now) : NULL;
	if (have_rotation > 0 && rotation.pending.count > 0 && (int64_t)now < rotation.pending_after)
		d->switch_at = (time_t)rotation.pending_after;
	bool taken[KEYS_READ_MAX] = { false };
	if (active != NULL) {
		for (size_t s = 0; s < active->count && d->count < KEYS_PER_DOMAIN; s++) {
			size_t i;
			for (i = 0; i < found_count && strcmp(found[i].selector, active->selectors[s]) != 0; i++)
				;
			if (i == found_count) {
				mb_error("dkim: %s/%s names key %s, which is missing or unusable",
					 dir, MB_DKIM_ROTATION_FILE, active->selectors[s]);
				continue;
			}
			d->keys[d->count++] = found[i];
			taken[i] = true;
		}
	} else {
		/* the newest (greatest dated selector) of each algorithm */
		for (int algorithm = DKIM_RSA_SHA256; algorithm <= DKIM_ED25519_SHA256; algorithm++) {
			size_t best = KEYS_READ_MAX;
			for (size_t i = 0; i < found_count; i++) {
				if ((int)found[i].algorithm == algorithm &&
				    (best == KEYS_READ_MAX || strcmp(found[i].selector, found[best].selector) > 0))
					best = i;
			}
			if (best != KEYS_READ_MAX) {
				d->keys[d->count++] = found[best];
				taken[best] = true;
			}
		}
	}
	for (size_t i = 0; i < found_count; i++) {
		if (!taken[i])
			EVP_PKEY_free(found[i].pkey);
	}
}

static struct domain_keys *find_domain(struct keys *keys, const char *domain)
{
	for (size_t i = 0; i < keys->count; i++) {
		if (strcasecmp(keys->domains[i].domain, domain) == 0)
			return &keys->domains[i];
	}
	struct domain_keys *grown = mb_grow(keys->domains, &keys->capacity, keys->count + 1,
					    sizeof(*keys->domains), 16);
	if (grown == NULL)
		return NULL;
	keys->domains = grown;
	struct domain_keys *d = &keys->domains[keys->count++];
	memset(d, 0, sizeof(*d));
	snprintf(d->domain, sizeof(d->domain), "%s", domain);
	for (char *p = d->domain; *p != '\0'; p++)
		*p = *p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p;
	d->checked_at = -1;
	return d;
}

/* refresh - read the domain's keys again when its directory changed */
static void refresh(struct keys *keys, struct domain_keys *d, time_t now)
{
	char dir[DOMAIN_DIR_SIZE];
	struct stat st;

	if (d->checked_at == now)
		return;
	d->checked_at = now;
	snprintf(dir, sizeof(dir), "%s/%s", keys->key_dir, d->domain);
	bool exists = stat(dir, &st) == 0;
	bool switching = d->switch_at != 0 && now >= d->switch_at;
	if (!switching && exists == d->dir_exists && (!exists ||
	    (st.st_mtim.tv_sec == d->dir_mtime.tv_sec && st.st_mtim.tv_nsec == d->dir_mtime.tv_nsec)))
		return;
	d->dir_exists = exists;
	if (exists)
		d->dir_mtime = st.st_mtim;
	read_domain(keys->key_dir, d, now);
	if (d->count > 0)
		mb_info("dkim: %s signs with %d key%s (%s%s%s)", d->domain, d->count, d->count > 1 ? "s" : "",
			d->keys[0].selector, d->count > 1 ? ", " : "", d->count > 1 ? d->keys[1].selector : "");
}

int keys_for_domain(struct keys *keys, const char *domain, time_t now,
		    struct dkim_signing_key out[KEYS_PER_DOMAIN], char *error, size_t error_size)
{
	int count;

	if (domain[0] == '\0' || strchr(domain, '/') != NULL || domain[0] == '.')
		return 0;
	pthread_mutex_lock(&keys->lock);
	struct domain_keys *d = find_domain(keys, domain);
	if (d == NULL) {
		pthread_mutex_unlock(&keys->lock);
		snprintf(error, error_size, "out of memory looking up the DKIM keys of %s", domain);
		return -1;
	}
	refresh(keys, d, now);
	count = d->count;
	for (int i = 0; i < count; i++) {
		out[i] = d->keys[i];
		EVP_PKEY_up_ref(out[i].pkey);
	}
	pthread_mutex_unlock(&keys->lock);
	return count;
}

int keys_check_all(const char *key_dir, char *error, size_t error_size)
{
	DIR *top = opendir(key_dir);
	struct dirent *de;
	int ret = 0;

	if (top == NULL)
		return 0; /* no keys yet: nothing is signed */
	while (ret == 0 && (de = readdir(top)) != NULL) {
		char dir[DOMAIN_DIR_SIZE], path[KEY_PATH_SIZE], selector[MB_DKIM_SELECTOR_MAX + 1];
		if (de->d_name[0] == '.')
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", key_dir, de->d_name);
		DIR *dh = opendir(dir);
		if (dh == NULL)
			continue;
		struct dirent *ke;
		while (ret == 0 && (ke = readdir(dh)) != NULL) {
			if (!key_file_name(ke->d_name, selector))
				continue;
			snprintf(path, sizeof(path), "%s/%s.key", dir, selector);
			EVP_PKEY *pkey = load_key(path, error, error_size);
			if (pkey == NULL)
				ret = -1;
			EVP_PKEY_free(pkey);
		}
		closedir(dh);
	}
	closedir(top);
	return ret;
}
