/* SPDX-License-Identifier: MIT */
/*
** Error state: the thread-local status and message of the most recent failure,
** the status texts (from TG_STATUS_LIST in the public header, the one list
** the enum is made of too, so codes and texts cannot drift), and the
** internal assert.  Sits at the bottom of the core layer; everything reports
** through tg__error.
*/
#include "internal.h"

#include <string.h>

#define TG_ERRMSG_LEN 1024

static _Thread_local tg_status last_status = TG_OK;
static _Thread_local char last_msg[TG_ERRMSG_LEN];
static _Thread_local uint64_t n_errors;

uint64_t tg__error_count(void) { return n_errors; }

const char *tg_status_str(tg_status s)
{
    switch (s) {
#define X(code, text) case code: return text;
        TG_STATUS_LIST(X)
#undef X
    }
    return "unknown status";
}

tg_status tg_last_status(void) { return last_status; }

const char *tg_last_error(void) { return last_msg; }

void tg_clear_error(void)
{
    last_status = TG_OK;
    last_msg[0] = '\0';
}

static tg_status verror(tg_status s, const char *fmt, va_list ap)
{
    char tmp[TG_ERRMSG_LEN];
    vsnprintf(tmp, sizeof tmp, fmt, ap);   /* fmt may mention the old message */
    memcpy(last_msg, tmp, sizeof tmp);
    last_status = s;
    n_errors++;
    return s;
}

tg_status tg__error(tg_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(s, fmt, ap);
    va_end(ap);
    return s;
}

tg_status tg_set_error(tg_status s, const char *fmt, ...)
{
    va_list ap;
    if (!fmt)
        return tg__error(s, "%s", tg_status_str(s));
    va_start(ap, fmt);
    verror(s, fmt, ap);
    va_end(ap);
    return s;
}

tg_status tg__null_arg(const char *fn, const char *what)
{
    if (last_status != TG_OK)
        return last_status;
    return tg__error(TG_ERR_ARG, "%s: %s is NULL", fn, what);
}

const char *tg__shape_str(char *buf, int ndim, const int64_t *shape)
{
    size_t len = 0;
    buf[len++] = '[';
    for (int i = 0; i < ndim && len < TG__SHAPE_STR - 24; i++)
        len += (size_t)snprintf(buf + len, TG__SHAPE_STR - len, i ? ",%lld" : "%lld",
                                (long long)shape[i]);
    buf[len++] = ']';
    buf[len] = '\0';
    return buf;
}

void tg__assert_fail(const char *cond, const char *file, int line)
{
    fprintf(stderr, "tensorgrad: internal error: %s (%s:%d)\n", cond, file, line);
    abort();   /* TG_ASSERT only: a broken internal invariant, never user input */
}
