/*
 * grow.c - the one growable-array step
 *
 * Every list that is built up one entry at a time (context lists, store
 * scans, output buffers, session tables) asks here for room: the room
 * doubles, the multiplication is checked for overflow, and a failure
 * leaves the caller's array as it was. Written once so that no caller
 * repeats the doubling loop or forgets the overflow check.
 */
#include "grow.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

void *mb_grow(void *array, size_t *capacity, size_t needed, size_t element_size, size_t first)
{
	size_t room = *capacity;

	if (needed <= room && array != NULL)
		return array;
	if (element_size == 0) {
		errno = EINVAL;
		return NULL;
	}
	if (room == 0)
		room = first != 0 ? first : 8;
	while (room < needed) {
		if (room > SIZE_MAX / 2) {
			room = needed;
			break;
		}
		room *= 2;
	}
	if (room > SIZE_MAX / element_size) {
		errno = EOVERFLOW;
		return NULL;
	}
	void *grown = realloc(array, room * element_size);
	if (grown == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	*capacity = room;
	return grown;
}
