/* The freestanding runtime a C detector needs instead of libc: an allocator
 * for the generated bindings' cabi_realloc and post-return frees, and the
 * memory functions the compiler may call.
 *
 * The allocator keeps one free list per power-of-two size class (16 bytes to
 * 1 GiB) and carves new blocks from the end of the heap, growing linear
 * memory as needed. Each block has an 8-byte header holding its class, so
 * payloads are 8-byte aligned (the most the component model asks for) and
 * `free` needs no size. Freed blocks are reused by requests of the same
 * class; waste is at most half a block. That suits a detector, whose
 * allocations are its state tables (grown by doubling) and per-call
 * buffers of similar sizes each batch. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define HEADER 8u
#define MIN_CLASS 4u  /* 16 bytes */
#define MAX_CLASS 30u /* 1 GiB */
#define PAGE 65536u

/* The end of the static data and stack, placed by wasm-ld. */
extern unsigned char __heap_base;

static uintptr_t heap_top;
static void *free_lists[MAX_CLASS + 1];

static unsigned class_of(size_t size) {
  unsigned c = MIN_CLASS;
  while (c <= MAX_CLASS && ((size_t)1 << c) < size + HEADER) {
    c++;
  }
  return c;
}

/* Make sure linear memory reaches `end`; false when it cannot grow. */
static int reserve(uintptr_t end) {
  uintptr_t have = (uintptr_t)__builtin_wasm_memory_size(0) * PAGE;
  if (end <= have) {
    return 1;
  }
  size_t pages = (end - have + PAGE - 1) / PAGE;
  return __builtin_wasm_memory_grow(0, pages) != (size_t)-1;
}

void *malloc(size_t size) {
  unsigned c = class_of(size);
  if (c > MAX_CLASS) {
    return NULL;
  }
  void *block = free_lists[c];
  if (block) {
    free_lists[c] = *(void **)((unsigned char *)block + HEADER);
    return (unsigned char *)block + HEADER;
  }
  if (heap_top == 0) {
    heap_top = ((uintptr_t)&__heap_base + 7u) & ~(uintptr_t)7u;
  }
  uintptr_t start = heap_top;
  uintptr_t end = start + ((uintptr_t)1 << c);
  if (end < start || !reserve(end)) {
    return NULL;
  }
  heap_top = end;
  *(uint32_t *)start = c;
  return (unsigned char *)start + HEADER;
}

void free(void *ptr) {
  if (!ptr) {
    return;
  }
  unsigned char *block = (unsigned char *)ptr - HEADER;
  unsigned c = *(uint32_t *)block;
  *(void **)ptr = free_lists[c];
  free_lists[c] = block;
}

void *realloc(void *ptr, size_t size) {
  if (!ptr) {
    return malloc(size);
  }
  unsigned c = *(uint32_t *)((unsigned char *)ptr - HEADER);
  if (size + HEADER <= ((size_t)1 << c)) {
    return ptr;
  }
  void *grown = malloc(size);
  if (grown) {
    memcpy(grown, ptr, ((size_t)1 << c) - HEADER);
    free(ptr);
  }
  return grown;
}

_Noreturn void abort(void) { __builtin_trap(); }

void *memcpy(void *restrict dst, const void *restrict src, size_t n) {
  unsigned char *d = dst;
  const unsigned char *s = src;
  while (n--) {
    *d++ = *s++;
  }
  return dst;
}

void *memmove(void *dst, const void *src, size_t n) {
  unsigned char *d = dst;
  const unsigned char *s = src;
  if (d < s) {
    while (n--) {
      *d++ = *s++;
    }
  } else {
    while (n--) {
      d[n] = s[n];
    }
  }
  return dst;
}

void *memset(void *dst, int c, size_t n) {
  unsigned char *d = dst;
  while (n--) {
    *d++ = (unsigned char)c;
  }
  return dst;
}

int memcmp(const void *a, const void *b, size_t n) {
  const unsigned char *x = a, *y = b;
  for (size_t i = 0; i < n; i++) {
    if (x[i] != y[i]) {
      return x[i] < y[i] ? -1 : 1;
    }
  }
  return 0;
}

size_t strlen(const char *s) {
  size_t n = 0;
  while (s[n]) {
    n++;
  }
  return n;
}
