/*
 * uri.h - memcached's URI encoding of keys (watch lines, metadump):
 * unreserved characters (RFC 3986: letters, digits, - . _ ~) kept, every
 * other byte as %XX with upper-case hex.
 */
#ifndef SHMC_CORE_URI_H
#define SHMC_CORE_URI_H

#include <stddef.h>

/* Encodes n bytes of src into dst (room for 3 * n bytes; not terminated).
 * Returns the bytes written. */
size_t uri_encode(const char *src, size_t n, char *dst);

#endif
