/* err.h - petri's error codes and their one description function.
 * Convention: 0 is success; a negative value is an error, either -errno
 * or one of the project codes below (all <= -1000, so they never collide). */
#ifndef PETRI_ERR_H
#define PETRI_ERR_H

#include <stddef.h>

enum {
    ERR_PROTO = -1001,   /* malformed message or field */
    ERR_VERSION = -1002, /* unknown wire version */
    ERR_TRUNC = -1003,   /* input ended before the declared length */
    ERR_TOOBIG = -1004,  /* a size exceeds its cap */
    ERR_CRYPTO = -1005,  /* authentication failed / no key opens it */
    ERR_CONFIG = -1006,  /* bad configuration key or value */
    ERR_NOTFOUND = -1007,
    ERR_EXISTS = -1008,
    ERR_TIMEOUT = -1009,
    ERR_STATE = -1010,        /* operation not valid in the current state */
    ERR_INVAL = -1011,        /* invalid argument from a user or peer */
    ERR_SPEC = -1012,         /* invalid population/eval spec */
    ERR_LIMIT = -1013,        /* a configured limit was reached */
    ERR_UNKNOWN_TYPE = -1014, /* well-formed frame of a type we do not know */
};

/* Returns a static, human-readable description of `code` (0, -errno or a
 * project code). Never returns NULL. */
const char *err_str(int code);

/* Writes a printf-style message naming what is wrong into err (when err is
 * not NULL and errlen > 0) and returns ERR_SPEC: how the spec and config
 * parsers report a bad field. */
int err_spec(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
