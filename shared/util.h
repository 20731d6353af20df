/* util.h - small helpers shared by petri's modules: directories, whole-file
 * reads with a size cap, atomic file writes, bounded string copy, and
 * strict integer parsing. All return 0 or a negative code of err.h. */
#ifndef PETRI_UTIL_H
#define PETRI_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Creates path and its missing parents with mode (like mkdir -p). An
 * existing directory is fine; an existing non-directory is -ENOTDIR. */
int util_mkdir_p(const char *path, mode_t mode);

/* Reads the whole file into a malloc'd, NUL-terminated buffer (*out, owned
 * by the caller; *len excludes the NUL, may be NULL). ERR_TOOBIG if the file
 * holds more than max bytes; -errno on I/O errors. *out is NULL on error. */
int util_read_file(const char *path, size_t max, char **out, size_t *len);

#define UTIL_NO_REPLACE 0x1 /* fail with ERR_EXISTS if path exists */

/* Writes data to path atomically: a temporary file in the same directory
 * with the given mode (umask does not apply), fsync, then rename (or link
 * with UTIL_NO_REPLACE, so concurrent creators never clobber each other).
 * A reader sees either the old file or the whole new one. */
int util_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, int flags);

/* Copies src into dst[cap], always NUL-terminated when cap > 0. Returns
 * strlen(src): truncation happened if the result is >= cap. */
size_t util_strlcpy(char *dst, const char *src, size_t cap);

/* Parses a whole base-10 signed integer (optional sign, no spaces, no
 * trailing bytes). ERR_INVAL on bad syntax, -ERANGE outside int64. */
int util_parse_i64(const char *s, int64_t *out);

#endif
