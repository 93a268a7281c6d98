/* grow.h - make room in a growable array (see grow.c). */
#ifndef MAILBAG_GROW_H
#define MAILBAG_GROW_H

#include <stddef.h>

/* Room for at least `needed` elements of element_size bytes in array
   (NULL for none yet), whose room is *capacity elements. The room
   doubles from at least `first` elements (0 for 8), so n appends cost
   O(n) copies. Returns the array to use from now on, with *capacity
   updated; NULL with errno ENOMEM or EOVERFLOW when it cannot grow, the
   array and *capacity then untouched (still valid, still to be freed).
   Usage:
       struct item *grown = mb_grow(list->items, &list->capacity,
				    list->count + 1, sizeof(*list->items), 0);
       if (grown == NULL) return -1;
       list->items = grown; */
void *mb_grow(void *array, size_t *capacity, size_t needed, size_t element_size, size_t first);

#endif
