/* err.c - descriptions of petri's error codes (err.h).
 * Thread-safe: every string returned is static and never rewritten. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *err_str(int code)
{
    switch (code) {
    case 0:
        return "ok";
    case ERR_PROTO:
        return "malformed message";
    case ERR_VERSION:
        return "unknown wire version";
    case ERR_TRUNC:
        return "truncated input";
    case ERR_TOOBIG:
        return "size exceeds its limit";
    case ERR_CRYPTO:
        return "authentication failed";
    case ERR_CONFIG:
        return "bad configuration";
    case ERR_NOTFOUND:
        return "not found";
    case ERR_EXISTS:
        return "already exists";
    case ERR_TIMEOUT:
        return "timed out";
    case ERR_STATE:
        return "invalid in the current state";
    case ERR_INVAL:
        return "invalid argument";
    case ERR_SPEC:
        return "invalid spec";
    case ERR_LIMIT:
        return "limit reached";
    case ERR_UNKNOWN_TYPE:
        return "unknown message type";
    default:
        break;
    }
    if (code < 0 && code > -1000) {
        /* strerrordesc_np (glibc >= 2.32) returns a static string: no buffer race. */
        const char *s = strerrordesc_np(-code);
        if (s)
            return s;
    }
    return "unknown error";
}

int err_spec(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return ERR_SPEC;
}
