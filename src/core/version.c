/* SPDX-License-Identifier: MIT */
/*
** The library's version, as CMake generated it into tensorgrad_version.h from
** project(tensorgrad VERSION ...).  Core layer; depends on nothing else.
*/
#include "tensorgrad.h"

const char *tg_version(void) { return TG_VERSION_STRING; }
