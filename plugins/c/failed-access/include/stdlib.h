/* The part of <stdlib.h> the generated bindings use. There is no libc in a
 * freestanding wasm32 module: runtime.c defines these. */
#ifndef UEBA_C_STDLIB_H
#define UEBA_C_STDLIB_H
#include <stddef.h>

void *malloc(size_t size);
void *realloc(void *ptr, size_t size);
void free(void *ptr);
_Noreturn void abort(void);

#endif
