/* SPDX-License-Identifier: MIT */
/*
** Parameter lists: an ordered array of (name, tensor) pairs that a module
** exposes and that optimizers and save / load (serialize.c) walk.  The list
** owns a copy of each name and a reference of its own to each tensor
** (tg__tensor_ref), so a listed tensor outlives its scope or the caller's
** tg_free.  nn layer, on top of the public API and the core's refcounts.
*/
#include "core/internal.h"

#include <string.h>

struct tg_params {
    int n, cap;
    char **names;
    tg_tensor **tensors;
};

tg_params *tg_params_new(void)
{
    tg_params *p = tg__calloc(1, sizeof *p);
    if (!p)
        tg__error(TG_ERR_NOMEM, "tg_params_new: out of memory");
    return p;
}

void tg_params_free(tg_params *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n; i++) {
        tg__free(p->names[i]);
        tg__tensor_unref(p->tensors[i]);
    }
    tg__free(p->names);
    tg__free(p->tensors);
    tg__free(p);
}

/* Room for extra more entries. */
static tg_status reserve(tg_params *p, int extra, const char *fn)
{
    if (extra > INT32_MAX - p->n)
        return tg__error(TG_ERR_ARG, "%s: a parameter list holds at most %d entries", fn, INT32_MAX);
    if (p->n + extra <= p->cap)
        return TG_OK;
    int cap = p->cap ? p->cap : 8;
    while (cap < p->n + extra)
        cap = cap > INT32_MAX / 2 ? INT32_MAX : cap * 2;
    char **names = tg__realloc(p->names, (size_t)cap * sizeof *names);
    if (names)
        p->names = names;
    tg_tensor **tensors = names ? tg__realloc(p->tensors, (size_t)cap * sizeof *tensors) : NULL;
    if (!tensors)
        return tg__error(TG_ERR_NOMEM, "%s: out of memory growing the list to %d entries", fn, cap);
    p->tensors = tensors;
    p->cap = cap;
    return TG_OK;
}

static int find_index(const tg_params *p, const char *name)
{
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->names[i], name) == 0)
            return i;
    return -1;
}

/* "prefix.name" (or name) in a new string; NULL + TG_ERR_NOMEM. */
static char *join_name(const char *prefix, const char *name, const char *fn)
{
    size_t lp = prefix ? strlen(prefix) + 1 : 0, ln = strlen(name);
    char *s = tg__malloc(lp + ln + 1);
    if (!s) {
        tg__error(TG_ERR_NOMEM, "%s: out of memory copying the name '%s'", fn, name);
        return NULL;
    }
    if (prefix) {
        memcpy(s, prefix, lp - 1);
        s[lp - 1] = '.';
    }
    memcpy(s + lp, name, ln + 1);
    return s;
}

/* Appends (name, t), taking ownership of name; room must be reserved. */
static void append(tg_params *p, char *name, tg_tensor *t)
{
    p->names[p->n] = name;
    p->tensors[p->n] = tg__tensor_ref(t);
    p->n++;
}

tg_status tg_params_add(tg_params *p, const char *name, tg_tensor *t)
{
    if (!p || !name)
        return tg__null_arg("tg_params_add", !p ? "p" : "name");
    tg_status live = tg__check_live("tg_params_add", "t", t);
    if (live != TG_OK)
        return live;
    if (find_index(p, name) >= 0)
        return tg__error(TG_ERR_ARG, "tg_params_add: name '%s' is already in the list", name);
    tg_status st = reserve(p, 1, "tg_params_add");
    if (st != TG_OK)
        return st;
    char *copy = join_name(NULL, name, "tg_params_add");
    if (!copy)
        return TG_ERR_NOMEM;
    append(p, copy, t);
    return TG_OK;
}

tg_status tg_params_extend(tg_params *p, const char *prefix, const tg_params *other)
{
    const char *fn = "tg_params_extend";
    if (!p || !other)
        return tg__null_arg(fn, !p ? "p" : "other");
    int n0 = p->n, m = other->n;   /* other may be p itself: only its first m entries */
    tg_status st = reserve(p, m, fn);
    for (int i = 0; i < m && st == TG_OK; i++) {
        char *name = join_name(prefix, other->names[i], fn);
        if (!name)
            st = TG_ERR_NOMEM;
        else if (find_index(p, name) >= 0)
            st = tg__error(TG_ERR_ARG, "%s: name '%s' is already in the list", fn, name);
        if (st == TG_OK)
            append(p, name, other->tensors[i]);
        else
            tg__free(name);
    }
    while (st != TG_OK && p->n > n0) {   /* all or nothing */
        p->n--;
        tg__free(p->names[p->n]);
        tg__tensor_unref(p->tensors[p->n]);
    }
    return st;
}

int tg_params_count(const tg_params *p)
{
    if (!p) {
        tg__null_arg("tg_params_count", "p");
        return -1;
    }
    return p->n;
}

const char *tg_params_name(const tg_params *p, int i)
{
    return p && i >= 0 && i < p->n ? p->names[i] : NULL;
}

tg_tensor *tg_params_get(const tg_params *p, int i)
{
    return p && i >= 0 && i < p->n ? p->tensors[i] : NULL;
}

tg_tensor *tg_params_find(const tg_params *p, const char *name)
{
    if (!p || !name) {
        tg__null_arg("tg_params_find", !p ? "p" : "name");
        return NULL;
    }
    int i = find_index(p, name);
    return i >= 0 ? p->tensors[i] : NULL;
}

void tg_params_zero_grad(const tg_params *p)
{
    for (int i = 0; p && i < p->n; i++)
        tg_zero_grad(p->tensors[i]);
}
