/* SPDX-License-Identifier: MIT */
/*
** tgfit's one error line: every file records a failure here with tgfit_fail
** and main prints it once as "tgfit: <message>".  It depends on nothing else
** in tgfit, so the other files need not include main.c's symbols (which tied
** every file to main.c and main.c to every file).
*/
#include "tgfit.h"

#include <stdarg.h>
#include <stdio.h>

static char error_line[1024];

int tgfit_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_line, sizeof error_line, fmt, ap);
    va_end(ap);
    return TGFIT_FAIL;
}

const char *tgfit_error(void) { return error_line; }
